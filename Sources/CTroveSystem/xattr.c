#include "CTroveSystem.h"
#include <sys/xattr.h>

#ifdef __APPLE__
ssize_t trove_list_xattrs(const char *path, char *list, size_t size) { return listxattr(path, list, size, XATTR_NOFOLLOW); }
ssize_t trove_flist_xattrs(int fd, char *list, size_t size) { return flistxattr(fd, list, size, 0); }
ssize_t trove_get_xattr(const char *path, const char *name, void *value, size_t size) { return getxattr(path, name, value, size, 0, XATTR_NOFOLLOW); }
ssize_t trove_fget_xattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size, 0, 0); }
int trove_set_xattr(const char *path, const char *name, const void *value, size_t size) { return setxattr(path, name, value, size, 0, XATTR_NOFOLLOW); }
int trove_fset_xattr(int fd, const char *name, const void *value, size_t size) { return fsetxattr(fd, name, value, size, 0, 0); }
int trove_remove_xattr(const char *path, const char *name) { return removexattr(path, name, XATTR_NOFOLLOW); }
#else
ssize_t trove_list_xattrs(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t trove_flist_xattrs(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
ssize_t trove_get_xattr(const char *path, const char *name, void *value, size_t size) { return lgetxattr(path, name, value, size); }
ssize_t trove_fget_xattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }
int trove_set_xattr(const char *path, const char *name, const void *value, size_t size) { return lsetxattr(path, name, value, size, 0); }
int trove_fset_xattr(int fd, const char *name, const void *value, size_t size) { return fsetxattr(fd, name, value, size, 0); }
int trove_remove_xattr(const char *path, const char *name) { return lremovexattr(path, name); }
#endif
