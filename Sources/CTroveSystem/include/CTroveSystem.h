#ifndef CTROVE_SYSTEM_H
#define CTROVE_SYSTEM_H
// Linux calls Swift's Glibc module does not export (extended attributes), wrapped so
// their declarations do not depend on feature macros. They set errno like the originals.
#include <stddef.h>
#include <sys/types.h>

/// llistxattr: attribute names, NUL-separated.
ssize_t trove_list_xattrs(const char *path, char *list, size_t size);
/// The attribute names of `name` in the folder open as `dirfd`, not following a link
/// (listxattrat, Linux 6.13 and later: the whole path is not resolved again). Fails with
/// ENOSYS where the kernel, a sandbox or the platform lacks it; then use trove_list_xattrs.
ssize_t trove_list_xattrs_at(int dirfd, const char *name, char *list, size_t size);
/// lgetxattr.
ssize_t trove_get_xattr(const char *path, const char *name, void *value, size_t size);
/// lsetxattr / fsetxattr (create or replace).
int trove_set_xattr(const char *path, const char *name, const void *value, size_t size);
int trove_fset_xattr(int fd, const char *name, const void *value, size_t size);

#endif
