#include "CTroveSystem.h"
#include <sys/xattr.h>
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#ifdef __APPLE__
ssize_t trove_list_xattrs(const char *path, char *list, size_t size) { return listxattr(path, list, size, XATTR_NOFOLLOW); }
ssize_t trove_get_xattr(const char *path, const char *name, void *value, size_t size) { return getxattr(path, name, value, size, 0, XATTR_NOFOLLOW); }
int trove_set_xattr(const char *path, const char *name, const void *value, size_t size) { return setxattr(path, name, value, size, 0, XATTR_NOFOLLOW); }
int trove_fset_xattr(int fd, const char *name, const void *value, size_t size) { return fsetxattr(fd, name, value, size, 0, 0); }
#else
ssize_t trove_list_xattrs(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t trove_get_xattr(const char *path, const char *name, void *value, size_t size) { return lgetxattr(path, name, value, size); }
int trove_set_xattr(const char *path, const char *name, const void *value, size_t size) { return lsetxattr(path, name, value, size, 0); }
int trove_fset_xattr(int fd, const char *name, const void *value, size_t size) { return fsetxattr(fd, name, value, size, 0); }
#endif

#ifdef __linux__
// listxattrat's number is the same on every architecture (numbers from 424 on are shared).
#define TROVE_NR_LISTXATTRAT 465
static atomic_int listxattrat_refused = 0;

ssize_t trove_list_xattrs_at(int dirfd, const char *name, char *list, size_t size) {
    if (!atomic_load_explicit(&listxattrat_refused, memory_order_relaxed)) {
        long n = syscall(TROVE_NR_LISTXATTRAT, dirfd, name, AT_SYMLINK_NOFOLLOW, list, size);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return (ssize_t)n;
        atomic_store_explicit(&listxattrat_refused, 1, memory_order_relaxed);
    }
    errno = ENOSYS;
    return -1;
}
#else
ssize_t trove_list_xattrs_at(int dirfd, const char *name, char *list, size_t size) {
    (void)dirfd; (void)name; (void)list; (void)size;
    errno = ENOSYS;
    return -1;
}
#endif
