// SPDX-License-Identifier: MIT
/* The names of the app and package states (store.h), shared by every store backend and the API. */
#include "store.h"

const char *const store_app_state_names[2] = {
	[STORE_APP_STOPPED] = "STOPPED",
	[STORE_APP_STARTED] = "STARTED",
};
const char *const store_package_state_names[3] = {
	[STORE_PACKAGE_PENDING] = "PENDING",
	[STORE_PACKAGE_STAGED] = "STAGED",
	[STORE_PACKAGE_FAILED] = "FAILED",
};
