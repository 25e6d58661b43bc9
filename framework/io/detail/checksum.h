#pragma once
// CRC32C (Castagnoli, the polynomial of iSCSI, ext4 and SSE4.2's crc32 instruction): the checksum of every tensor and
// of the checkpoint header. Internal to io (and its tests).
#include <cstddef>
#include <cstdint>

namespace ds::io {

// CRC32C of n bytes. Pass a previous result as `crc` to continue it: crc32c(b, nb, crc32c(a, na)) equals the CRC of
// a followed by b. crc32c("123456789", 9) == 0xE3069283.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The same without the crc32 instruction (what crc32c uses on CPUs without SSE4.2); for tests.
uint32_t crc32c_portable(const void* data, size_t n, uint32_t crc = 0);

}  // namespace ds::io
