import Foundation

/// Where a library lives: `--library`, else `$TROVE_LIBRARY`, else `$XDG_DATA_HOME/trove`,
/// else `~/.local/share/trove` (XDG base directory spec).
public enum LibraryLocation {
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return absolute(explicit) }
        if let env = environment["TROVE_LIBRARY"], !env.isEmpty { return absolute(env) }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/trove" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/trove"
    }

    /// Makes a path absolute against the working directory and removes `.`/`..` and trailing slashes.
    public static func absolute(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}
