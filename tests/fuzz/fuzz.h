/*
 * What every libFuzzer target in tests/fuzz/ shares: the entry points libFuzzer calls, and
 * an assertion that is never compiled out.
 *
 * A target is one file, fuzz_<name>.c, with its seed corpus in corpus/<name>/. It checks
 * properties, not only the absence of crashes: a broken property calls fuzz_fail(), which
 * prints what was wrong and aborts, so libFuzzer saves the input as a crash.
 *
 * Each target runs single-threaded in one process; global state is set up once in
 * LLVMFuzzerInitialize() and must be left as it was found by every input.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/** Runs one input; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Called once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/**
 * The 32-byte seed of the Ed25519 key the credentials target trusts (issuer
 * "https://ed.fuzz.example"), so gen_seeds.c can sign tokens that verify without a private
 * key in the tree. For fuzzing only.
 */
#define FUZZ_ED25519_SEED "streamd-fuzz-ed25519-key-seed-01"

/** Prints a broken property with its place and aborts, so the input is kept as a crash. */
#define fuzz_fail(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: property broken: ", __FILE__, __LINE__);                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/** Always-on assertion of a property of the code under test. */
#define fuzz_assert(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail("%s", #cond);                                                                \
    } while (0)

#endif
