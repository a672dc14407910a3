/* The GError domain of agnocastctl, whose codes are its exit statuses. */
#include "agnocastctl.h"

G_DEFINE_QUARK(agnocastctl - error - quark, ctl_error)
