/* Percentiles over latency samples and the JSON line each case prints. */
#include "bench-stats.h"

#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0;
    rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

uint64_t bench_stats_compute(uint64_t *ns, size_t n, struct bench_stats *st)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++)
        if (ns[i])
            ns[m++] = ns[i];
    qsort(ns, m, sizeof(*ns), cmp_u64);
    st->count = m;
    st->p50_us = (double)bench_percentile(ns, m, 50) / 1e3;
    st->p90_us = (double)bench_percentile(ns, m, 90) / 1e3;
    st->p99_us = (double)bench_percentile(ns, m, 99) / 1e3;
    st->max_us = m ? (double)ns[m - 1] / 1e3 : 0;
    return m;
}

void bench_stats_print(FILE *out, const char *case_name, const char *transport, size_t size,
                       const struct bench_stats *st, const char *extra)
{
    fprintf(out,
            "{\"case\":\"%s\",\"transport\":\"%s\",\"size\":%zu,\"p50_us\":%.3f,"
            "\"p90_us\":%.3f,\"p99_us\":%.3f,\"max_us\":%.3f,\"count\":%llu%s}\n",
            case_name, transport, size, st->p50_us, st->p90_us, st->p99_us, st->max_us,
            (unsigned long long)st->count, extra ? extra : "");
    fflush(out);
}

int bench_samples_append(const char *path, const char *case_name, const uint64_t *sorted, size_t n)
{
    FILE *f = fopen(path, "a");
    int r = 0;

    if (!f)
        return -1;
    fputs(case_name, f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %llu", (unsigned long long)sorted[i]);
    fputc('\n', f);
    if (ferror(f))
        r = -1;
    if (fclose(f) != 0)
        r = -1;
    return r;
}

void bench_print_skip(FILE *out, const char *case_name, const char *transport, const char *reason)
{
    fprintf(out, "{\"case\":\"%s\",\"transport\":\"%s\",\"skipped\":\"", case_name, transport);
    for (const char *c = reason; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', out);
        fputc(*c >= 0x20 ? *c : ' ', out);
    }
    fputs("\"}\n", out);
    fflush(out);
}
