// OpenSSL 3 libcrypto, as SNMPSecurity uses it (Debian: libssl-dev).
#ifndef SNMPWARDEN_COPENSSL_SHIM_H
#define SNMPWARDEN_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#endif
