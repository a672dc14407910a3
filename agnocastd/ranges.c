/* The address-range allocator: a sorted array of reserved ranges inside one window. */
#include "ranges.h"

#include <errno.h>
#include <glib.h>
#include <unistd.h>

struct range {
    uint64_t base;
    uint64_t size;
};

struct ranges {
    uint64_t base;
    uint64_t end;
    GArray *used; /* struct range, sorted by base, never overlapping */
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

int ranges_window_validate(uint64_t base, uint64_t size, char **why)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    char *msg = NULL;

    if (base % page != 0 || size % page != 0)
        msg = g_strdup_printf("the window 0x%" G_GINT64_MODIFIER "x + 0x%" G_GINT64_MODIFIER
                              "x is not page aligned (page size %" G_GUINT64_FORMAT
                              "); pick a base and size that are multiples of it",
                              base, size, page);
    else if (size == 0)
        msg = g_strdup("the window size is 0; give --window-size a size such as 16T");
    else if (base == 0)
        msg = g_strdup("the window base is 0, where nothing can be mapped; give --window-base an "
                       "address such as 0x40000000000");
    else if (base >= RANGES_USER_TOP || size > RANGES_USER_TOP - base)
        msg = g_strdup_printf("the window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                              "x does not lie below the end of user space (0x%llx); lower "
                              "--window-base or --window-size",
                              base, base + size, RANGES_USER_TOP);
    else if (align_up(base, RANGES_ALIGN) >= base + size)
        msg = g_strdup_printf("the window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                              "x holds no 2 MiB-aligned address; make it larger",
                              base, base + size);
    if (msg == NULL)
        return 0;
    if (why != NULL)
        *why = msg;
    else
        g_free(msg);
    return -EINVAL;
}

struct ranges *ranges_new(uint64_t base, uint64_t size)
{
    struct ranges *r = g_new0(struct ranges, 1);

    r->base = base;
    r->end = base + size;
    r->used = g_array_new(FALSE, FALSE, sizeof(struct range));
    return r;
}

void ranges_free(struct ranges *r)
{
    if (r == NULL)
        return;
    g_array_free(r->used, TRUE);
    g_free(r);
}

int ranges_pool_size(uint64_t requested, uint64_t default_size, uint64_t max_size, uint64_t *out)
{
    uint64_t want = requested != 0 ? requested : default_size;

    if (want == 0 || want > max_size)
        return -EINVAL;
    if (want > UINT64_MAX - RANGES_POOL_UNIT)
        return -EINVAL;
    *out = align_up(want, RANGES_POOL_UNIT);
    return 0;
}

/* Index of the first reserved range that ends after `addr` (where a range at addr would go). */
static guint slot_for(const struct ranges *r, uint64_t addr)
{
    guint i = 0;

    while (i < r->used->len) {
        const struct range *u = &g_array_index(r->used, struct range, i);
        if (u->base + u->size > addr)
            break;
        i++;
    }
    return i;
}

static int fits(const struct ranges *r, guint slot, uint64_t base, uint64_t size)
{
    if (base < r->base || base > r->end || size > r->end - base)
        return 0;
    if (slot < r->used->len && g_array_index(r->used, struct range, slot).base < base + size)
        return 0;
    return 1;
}

int ranges_alloc(struct ranges *r, uint64_t size, uint64_t want_base, uint64_t *base)
{
    struct range nr = {.size = size};
    guint slot;

    if (size == 0)
        return -EINVAL;
    if (want_base != 0) {
        if (want_base % RANGES_ALIGN != 0)
            return -EINVAL;
        slot = slot_for(r, want_base);
        if (!fits(r, slot, want_base, size))
            return -EADDRINUSE;
        nr.base = want_base;
    } else {
        uint64_t cand = align_up(r->base, RANGES_ALIGN);
        for (slot = 0;; slot++) {
            if (fits(r, slot, cand, size))
                break;
            if (slot >= r->used->len)
                return -ENOMEM;
            const struct range *u = &g_array_index(r->used, struct range, slot);
            uint64_t next = align_up(u->base + u->size, RANGES_ALIGN);
            if (next > cand)
                cand = next;
            if (cand >= r->end)
                return -ENOMEM;
        }
        nr.base = cand;
    }
    g_array_insert_val(r->used, slot, nr);
    *base = nr.base;
    return 0;
}

int ranges_release(struct ranges *r, uint64_t base)
{
    for (guint i = 0; i < r->used->len; i++) {
        if (g_array_index(r->used, struct range, i).base == base) {
            g_array_remove_index(r->used, i);
            return 0;
        }
    }
    return -ENOENT;
}

size_t ranges_count(const struct ranges *r)
{
    return r->used->len;
}

uint64_t ranges_window_base(const struct ranges *r)
{
    return r->base;
}

uint64_t ranges_window_size(const struct ranges *r)
{
    return r->end - r->base;
}
