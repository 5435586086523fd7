import Testing
import TroveStorage
@testable import TrovePostgres

/// `find`'s globs become PostgreSQL regular expressions that match exactly what SQLite's GLOB does.
struct PostgresGlobTests {
    @Test func globsBecomeAnchoredRegularExpressions() {
        #expect(PostgresCatalog.globRegex("IMG_*.jpg") == "^IMG_.*\\.jpg$")
        #expect(PostgresCatalog.globRegex("a?c") == "^a.c$")
        #expect(PostgresCatalog.globRegex("[^ab]x") == "^[^ab]x$")
        #expect(PostgresCatalog.globRegex("[]x]") == "^[\\]x]$", "a ] right after [ belongs to the class")
        #expect(PostgresCatalog.globRegex("a[b") == "^a\\[b$", "an unclosed [ is itself")
        #expect(PostgresCatalog.globRegex("(1+1){2}|$^") == "^\\(1\\+1\\)\\{2\\}\\|\\$\\^$", "regex characters stand for themselves")
    }

    @Test func aFindPatternSaysWhatToMatch() {
        #expect(FindPattern("gzip/*").glob == "*/gzip/*" && FindPattern("gzip/*").column == "path")
        #expect(FindPattern("/usr/*").glob == "/usr/*")
        #expect(FindPattern("50%_off").like == "%50\\%\\_off%" && FindPattern("50%_off").glob == nil && FindPattern("50%_off").column == "name")
    }
}
