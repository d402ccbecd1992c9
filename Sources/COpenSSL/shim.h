// OpenSSL 3 libcrypto, as SNMPSecurity uses it (Debian: libssl-dev).
#ifndef SNMPWARDEN_COPENSSL_SHIM_H
#define SNMPWARDEN_COPENSSL_SHIM_H
// HMACAuthenticator uses the low-level MD5/SHA contexts, deprecated (not removed) in OpenSSL 3.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#endif
