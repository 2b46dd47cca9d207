/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the unit tests (linked with the TAP helper).
 */
#ifndef DEW_TESTUTIL_H
#define DEW_TESTUTIL_H

/* Entries of dir other than . and .., or -1 when it cannot be opened. */
int test_count_entries(const char *dir);

#endif
