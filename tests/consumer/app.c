/* A program outside the tree, built only through pkg-config against the installed package. */
#include <agnocast.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    struct agnocast_context *ctx;
    int r;

    if (strcmp(agnocast_version(), AGNOCAST_VERSION_NUMBER >= 100 ? "0.1.0" : "") != 0)
        return 1;
    r = agnocast_context_new(&ctx);
    if (r == 0) {
        agnocast_context_free(ctx);
        printf("connected\n");
        return 0;
    }
    /* No broker: the error must say so and how to start one. */
    printf("%s\n", agnocast_last_error());
    return strstr(agnocast_last_error(), "no broker at") ? 0 : 1;
}
