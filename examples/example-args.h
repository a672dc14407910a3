/* The numbers the example programs take on their command line, checked: a value that is not a
 * number, or is out of range, is refused with a sentence naming the option and what it takes,
 * and the program exits with status 2 (EXAMPLE_EXIT_USAGE) instead of running with a guess. */
#ifndef AGNOCAST_EXAMPLE_ARGS_H
#define AGNOCAST_EXAMPLE_ARGS_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bad command line, as for agnocastd and agnocastctl (their manuals' EXIT STATUS). */
#define EXAMPLE_EXIT_USAGE 2

/* Prints "PROG: --OPT TEXT WHY; give MIN to MAX" (or "MIN or more" without a real maximum). */
static inline void example_arg_refuse(const char *prog, const char *opt, const char *text,
                                      const char *why, uint64_t min, uint64_t max)
{
    if (max == UINT64_MAX)
        fprintf(stderr, "%s: --%s \"%s\" %s; give %llu or more\n", prog, opt, text, why,
                (unsigned long long)min);
    else
        fprintf(stderr, "%s: --%s \"%s\" %s; give %llu to %llu\n", prog, opt, text, why,
                (unsigned long long)min, (unsigned long long)max);
}

/* `text` as a whole number in [min, max], decimal digits only. 0, or -1 after saying why. */
static inline int example_arg_u64(const char *prog, const char *opt, const char *text, uint64_t min,
                                  uint64_t max, uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (text[0] == '-') {
        example_arg_refuse(prog, opt, text, "is out of range", min, max);
        return -1;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0') {
        example_arg_refuse(prog, opt, text, "is not a whole number", min, max);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        example_arg_refuse(prog, opt, text, "is out of range", min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* `text` as a finite decimal number in [min, max] ("2.5", "1e3"; not " 5", "0x10", "inf").
 * 0, or -1 after saying why. */
static inline int example_arg_double(const char *prog, const char *opt, const char *text,
                                     double min, double max, double *out)
{
    const char *why = NULL;
    double v;
    char *end;

    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v) || strchr("0123456789.+-", text[0]) == NULL ||
        strpbrk(text, "xX") != NULL)
        why = "is not a number";
    else if (errno == ERANGE || v < min || v > max)
        why = "is out of range";
    if (why != NULL) {
        fprintf(stderr, "%s: --%s \"%s\" %s; give %.15g to %.15g\n", prog, opt, text, why, min,
                max);
        return -1;
    }
    *out = v;
    return 0;
}

#endif
