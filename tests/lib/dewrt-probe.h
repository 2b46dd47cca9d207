/* SPDX-License-Identifier: MIT */
/*
 * dewrt-probe, the static multi-call binary that runs inside containers and reports what it
 * sees as JSON: shared declarations of its files (dewrt-probe.c: main and the small commands;
 * dewrt-probe-report.c: `report`; dewrt-probe-syscall.c: `syscall`).
 */
#ifndef DEWRT_PROBE_H
#define DEWRT_PROBE_H

#include <stdbool.h>

/* Print s as a JSON string (quoted, escaped) on stdout. */
void probe_json_str(const char *s);

/* Print `"errno": e, "errname": "EPERM"` (errname null when e is 0) on stdout. */
void probe_json_errno(int e);

/* `report`: one JSON object describing the process and its view of the system. */
int probe_cmd_report(int argc, char **argv);

/* `syscall NAME [ARG]`: try one operation of the table, print its result and errno. */
int probe_cmd_syscall(int argc, char **argv);

#endif
