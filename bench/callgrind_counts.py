#!/usr/bin/env python3
"""Reads callgrind dumps and prints, per file, the instructions (the `summary:` line) and the
calls into the C allocator: malloc, calloc, realloc and the aligned allocators (operator new
reaches them, so counting them counts every heap allocation once).

    callgrind_counts.py FILE...   ->   "instructions allocations" per file, one line each
"""
import re
import sys

ALLOCATORS = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}
NAMED = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")


def counts(path):
    names = {}
    callee = None
    instructions = 0
    allocations = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
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
            elif line.startswith("calls="):
                if callee in ALLOCATORS:
                    allocations += int(line[6:].split()[0])
                callee = None
    return instructions, allocations


def main():
    for path in sys.argv[1:]:
        ins, allocs = counts(path)
        print(ins, allocs)


if __name__ == "__main__":
    main()
