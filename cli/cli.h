/* What agnocastd and agnocastctl share as command-line programs: one exit status per kind of
 * failure, and output in the user's locale. */
#ifndef AGNOCAST_CLI_H
#define AGNOCAST_CLI_H

/*
 * Exit statuses. One kind of failure has one number, in both programs: a script tells "no
 * broker" from "not allowed" from "bad option" the same way whichever it ran. The manuals list
 * them (EXIT STATUS in agnocastd(8) and agnocastctl(1)); a number is never reused for another
 * kind. Usage is 2, as in most Unix tools.
 */
enum cli_exit {
    CLI_EXIT_OK = 0,         /* success; --help and --version too */
    CLI_EXIT_FAILURE = 1,    /* a failure no other status names: a system call, memory */
    CLI_EXIT_USAGE = 2,      /* the command line: unknown command or option, a value that is not
                                a number or out of range, options that contradict each other,
                                wrong arguments, an invalid topic name */
    CLI_EXIT_NO_BROKER = 3,  /* no broker at the socket: no such file, or nobody listens */
    CLI_EXIT_DENIED = 4,     /* permission denied on the broker's socket or its directory */
    CLI_EXIT_PROTOCOL = 5,   /* the broker cannot be understood: another protocol version, no
                                reply in time, the connection closed, a malformed reply */
    CLI_EXIT_REFUSED = 6,    /* the broker answered with an error (an unknown topic, ...) */
    CLI_EXIT_NO_SEGMENT = 7, /* no publisher segment of the topic could be read */
    CLI_EXIT_CONFIG = 8,     /* a file the configuration names cannot be read or is invalid */
    CLI_EXIT_IN_USE = 9,     /* the socket is taken: another broker listens on it, or a file that
                                is not a socket is in the way */
};

/*
 * Takes the locale from the environment (LANG, LC_*), but for numbers (LC_NUMERIC stays "C", so
 * that --json and the logs write 1.5 in every language), and makes g_print() and g_printerr(),
 * which print GLib's option help and errors, write what the locale's character set can show:
 * UTF-8 as it is in a UTF-8 locale, else plain ASCII ("[OPTION...]", not "[OPTION?]"). First
 * thing in main().
 */
void cli_init(void);

#endif
