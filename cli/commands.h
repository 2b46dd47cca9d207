/* SPDX-License-Identifier: MIT */
/*
 * The run functions of the commands, one file each (cmd-<name>.c); commands.c tables them.
 */
#ifndef DEW_CLI_COMMANDS_H
#define DEW_CLI_COMMANDS_H

#include "cli.h"

/* cmd-help.c, cmd-target.c, cmd-login.c */
int cmd_help(struct cli *cli, const struct cli_args *a);
int cmd_version(struct cli *cli, const struct cli_args *a);
int cmd_target(struct cli *cli, const struct cli_args *a);
int cmd_login(struct cli *cli, const struct cli_args *a);
int cmd_logout(struct cli *cli, const struct cli_args *a);
/* cmd-info.c */
int cmd_info(struct cli *cli, const struct cli_args *a);
int cmd_stacks(struct cli *cli, const struct cli_args *a);
/* cmd-apps.c */
int cmd_apps(struct cli *cli, const struct cli_args *a);
int cmd_app(struct cli *cli, const struct cli_args *a);
/* The instances answer of the controller as a table. */
void cli_print_instances(struct cli *cli, const json_t *inst);
/* cmd-state.c: start, stop, restart, restage, scale, delete */
int cmd_start(struct cli *cli, const struct cli_args *a);
int cmd_stop(struct cli *cli, const struct cli_args *a);
int cmd_restart(struct cli *cli, const struct cli_args *a);
int cmd_restage(struct cli *cli, const struct cli_args *a);
int cmd_scale(struct cli *cli, const struct cli_args *a);
int cmd_delete(struct cli *cli, const struct cli_args *a);
/* -- push: cmd-push.c (below this line) -- */
int cmd_push(struct cli *cli, const struct cli_args *a);

/* -- observing and settings (below this line) -- */
/* cmd-instances.c */
int cmd_instances(struct cli *cli, const struct cli_args *a);
int cmd_stats(struct cli *cli, const struct cli_args *a);
int cmd_crashes(struct cli *cli, const struct cli_args *a);
extern const struct cli_option cli_crashes_options[];
/* cmd-logs.c */
int cmd_logs(struct cli *cli, const struct cli_args *a);
extern const struct cli_option cli_logs_options[];
/* Unix time ts as "2026-11-25T07:00:00.12Z" (UTC, hundredths). */
void cli_time_iso(double ts, char out[40]);
/* cmd-files.c */
int cmd_files(struct cli *cli, const struct cli_args *a);
extern const struct cli_option cli_files_options[];
/* cmd-env.c */
int cmd_env(struct cli *cli, const struct cli_args *a);
int cmd_set_env(struct cli *cli, const struct cli_args *a);
int cmd_unset_env(struct cli *cli, const struct cli_args *a);
/* cmd-routes.c */
int cmd_routes(struct cli *cli, const struct cli_args *a);
int cmd_map_route(struct cli *cli, const struct cli_args *a);
int cmd_unmap_route(struct cli *cli, const struct cli_args *a);
/* cmd-info.c */
int cmd_buildpacks(struct cli *cli, const struct cli_args *a);

#endif
