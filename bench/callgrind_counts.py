#!/usr/bin/env python3
"""Reads callgrind dumps and prints, per file, the instructions (the `summary:` line), the
calls into the C allocator: malloc, calloc, realloc and the aligned allocators (operator new
reaches them, so counting them counts every heap allocation once), and the instructions
spent in clipal's body inspection and usage accounting (inclusive cost of the calls into the functions below;
a call made from one of them is not counted twice; 0 for nginx).

    callgrind_counts.py FILE...   ->   "instructions allocations accounting" per file, one line each
"""
import re
import sys

ALLOCATORS = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}
# What clipal does per request that a plain proxy does not: read the request's JSON for
# `stream` and `model`, meter the answer's usage, hand the row over, and (supervisor) decode
# it, add it to the recent-activity view and write it to usage.db.
ACCOUNTING = (
    "clipal::worker::inspect_request(",
    "clipal::worker::usage_meter::",
    "clipal::worker::forwarder::account(",
    "clipal::usage_rows_decoder::",
    "clipal::supervisor::usage_store::",
    "clipal::supervisor::recent_activity::add_row(",
)
NAMED = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")


def counts(path):
    names = {}
    caller = ""
    callee = None
    instructions = 0
    allocations = 0
    accounting = 0
    inclusive_next = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if inclusive_next:
                inclusive_next = False
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    accounting += int(parts[1])
                continue
            if line.startswith("summary:"):
                instructions = int(line.split()[1])
            elif line.startswith("cfn=") or line.startswith("fn="):
                m = NAMED.match(line.rstrip("\n"))
                if m:
                    if m.group(2) is not None:
                        names[m.group(1)] = m.group(2)
                    name = names.get(m.group(1), "")
                else:
                    name = line.split("=", 1)[1].strip()
                if line.startswith("cfn="):
                    callee = name
                else:
                    caller = name
            elif line.startswith("calls="):
                if callee in ALLOCATORS:
                    allocations += int(line[6:].split()[0])
                # The line after calls= holds the call's inclusive cost.
                inclusive_next = accounted(callee) and not accounted(caller)
                callee = None
    return instructions, allocations, accounting


def accounted(name):
    return bool(name) and name.startswith(ACCOUNTING)


def main():
    for path in sys.argv[1:]:
        print(*counts(path))


if __name__ == "__main__":
    main()
