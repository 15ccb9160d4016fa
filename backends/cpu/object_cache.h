// Persistent, size-bounded, multi-process-safe on-disk cache of compiled kernel object code.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tracejit::backends {

// SHA-256 of everything a kernel's object code depends on (see cpu_backend.cpp).
using ObjectKey = std::array<uint8_t, 32>;
[[nodiscard]] ObjectKey object_key(std::string_view key_text);
[[nodiscard]] std::string to_hex(const ObjectKey& key);

inline constexpr int64_t kDefaultObjectCacheMaxBytes = int64_t{256} << 20;

// Where kernels are cached: TRACEJIT_CACHE_DIR if set (the empty string disables the cache),
// else $XDG_CACHE_HOME/tracejit, else $HOME/.cache/tracejit; "" when disabled or no home.
[[nodiscard]] std::string default_object_cache_dir();
// TRACEJIT_CACHE_MAX_BYTES if set and positive, else kDefaultObjectCacheMaxBytes.
[[nodiscard]] int64_t default_object_cache_max_bytes();

// One cache directory. Entry <hex key>.tjo: a 64-byte header (magic "TJITOBJ\n", u32 format
// version, u32 zero, the 32-byte key, u64 payload length, u64 xxHash64 of the payload; little
// endian) then the object file. An entry whose header, key, length or checksum does not match
// is a miss (and is deleted). Writers write a private temp file and rename() it into place, so
// readers in other processes see a whole entry or none. Every hit touches the entry's mtime;
// after each store, the least recently used entries go until the total is <= max_bytes.
// Every failure (unwritable directory, full disk) degrades to a miss: never an error.
class ObjectCacheDir {
 public:
  explicit ObjectCacheDir(std::string dir, int64_t max_bytes = kDefaultObjectCacheMaxBytes)
      : dir_(std::move(dir)), max_bytes_(max_bytes) {}

  [[nodiscard]] std::optional<std::string> load(const ObjectKey& key) const noexcept;
  void store(const ObjectKey& key, std::string_view object) const noexcept;
  [[nodiscard]] std::string entry_path(const ObjectKey& key) const;
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] int64_t max_bytes() const { return max_bytes_; }

 private:
  void evict() const noexcept;

  std::string dir_;
  int64_t max_bytes_;
};

}  // namespace tracejit::backends
