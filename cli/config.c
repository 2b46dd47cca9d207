// SPDX-License-Identifier: MIT
/*
 * The CLI's configuration: $DEW_HOME/config.json, or ~/.dew/config.json, holding the target, the
 * token and the user name. Written atomically with mode 0600 in a 0700 directory: the token is
 * a credential.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "fs.h"
#include "json.h"

enum { CONFIG_MAX = 1 << 20 };

static char *config_home(void)
{
	const char *h = getenv("DEW_HOME");
	if (h && *h)
		return xstrdup(h);
	h = getenv("HOME");
	if (!h || !*h) {
		struct passwd *pw = getpwuid(getuid());
		h = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.dew", h);
}

static char *config_string(const json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));
	return v && *v ? xstrdup(v) : NULL;
}

int cli_config_load(struct cli *cli)
{
	cli->home = config_home();
	cleanup_free char *path = xasprintf("%s/config.json", cli->home);
	cleanup_error struct dew_error *err = NULL;
	char *data = NULL;
	size_t len = 0;
	int r = dew_read_file(path, CONFIG_MAX, &data, &len, &err);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		cli_error(cli, "%s", dew_error_msg(err));
		return -1;
	}
	json_auto_t *j = dew_json_parse(data, len, &err);
	free(data);
	if (!j || !json_is_object(j)) {
		cli_error(cli, "%s is not a JSON object (%s): fix or remove it", path,
			  err ? dew_error_msg(err) : "not an object");
		return -1;
	}
	cli->cfg.target = config_string(j, "target");
	cli->cfg.token = config_string(j, "token");
	cli->cfg.user = config_string(j, "user");
	return 0;
}

int cli_config_save(struct cli *cli)
{
	cleanup_error struct dew_error *err = NULL;
	cleanup_free char *path = xasprintf("%s/config.json", cli->home);
	json_auto_t *j = json_pack("{s:s?, s:s?, s:s?}", "target", cli->cfg.target, "token", cli->cfg.token,
				   "user", cli->cfg.user);
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (dew_mkdir_p(cli->home, 0700, &err) < 0 ||
	    dew_write_file_atomic(path, text, strlen(text), 0600, &err) < 0) {
		cli_error(cli, "save %s: %s", path, dew_error_msg(err));
		return -1;
	}
	return 0;
}

void cli_config_free(struct cli_config *c)
{
	free(c->target);
	free(c->token);
	free(c->user);
	*c = (struct cli_config){ 0 };
}
