#include "CTroveSystem.h"
#include <sys/xattr.h>

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
