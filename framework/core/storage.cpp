#include "storage.h"

#include "detail/object_cache.h"

namespace ds {

using StorageCache = detail::ObjectCache<sizeof(Storage)>;
void* Storage::operator new(size_t n) { return n == sizeof(Storage) ? StorageCache::allocate() : ::operator new(n); }
void Storage::operator delete(void* p) noexcept { StorageCache::deallocate(p); }

Storage::Storage(size_t nbytes, Allocator& allocator)
    : data_(allocator.allocate(nbytes)), nbytes_(nbytes), device_(allocator.device()), allocator_(&allocator) {}

Storage::Storage(void* data, size_t nbytes, Device device, void (*deleter)(void*, void*), void* deleter_ctx)
    : data_(data), nbytes_(nbytes), device_(device), allocator_(nullptr), deleter_(deleter), deleter_ctx_(deleter_ctx) {}

Storage::~Storage() {
  if (allocator_) allocator_->deallocate(data_, nbytes_);
  else if (deleter_) deleter_(data_, deleter_ctx_);
}

}  // namespace ds
