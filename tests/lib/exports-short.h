/* A header that declares only one function of libagnocast: check-exports must reject it. */
#ifndef EXPORTS_SHORT_H
#define EXPORTS_SHORT_H
const char *agnocast_version(void);
#endif
