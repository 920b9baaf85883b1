// Replaced by the IPC codec and channel (issue #4).
