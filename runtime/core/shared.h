/*
 * shared.h - ECL_SHARED, the mark of a function of the core that the network half calls.
 *
 * The runtime is compiled with hidden visibility: a name is exported only when it is part of
 * ecl.h or marked here. libecl.so exports ecl.h's names alone (cmake/libecl.map); the `ecl`
 * command exports ecl.h's and the marked ones, which libecl-net.so takes from it when it is
 * loaded (net.h). A function of the core that runtime/net/ starts calling needs the mark, or
 * the module fails to load naming it ("undefined symbol").
 */
#ifndef ECL_SHARED_H
#define ECL_SHARED_H

#define ECL_SHARED __attribute__((visibility("default")))

#endif /* ECL_SHARED_H */
