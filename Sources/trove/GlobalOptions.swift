import ArgumentParser
import Foundation
import TroveStorage
import TroveStores
import Logging
import TroveCore
import TroveEngine

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The library folder (default: $TROVE_LIBRARY or ~/.local/share/trove).")
    var library: String?

    @Flag(name: .shortAndLong, help: "Log details to stderr (also: TROVE_LOG_LEVEL=debug|info|warning).")
    var verbose = false

    var libraryPath: String { LibraryLocation.resolve(explicit: library) }

    /// Sets up swift-log once, then opens the library. Unless `readOnly`, the library's records
    /// are backed up to the stores as the command finishes when a backup is due.
    func openLibrary(readOnly: Bool = false) throws -> Library {
        bootstrapLogging()
        let library = try Library.open(at: libraryPath, clock: .fromEnvironment(), logger: Logger(label: "trove"))
        library.registry = StoreRegistry(libraryPath: library.path, askPassphrase: askPassphrase)
        if !readOnly { AutoBackup.library = library }
        return library
    }

    func bootstrapLogging() {
        LoggingBootstrap.once(level: verbose ? .info : Logger.Level(rawValue: ProcessInfo.processInfo.environment["TROVE_LOG_LEVEL"] ?? "") ?? .warning)
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) static var done = false
    static func once(level: Logger.Level) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// The library a changing command opened: its records are backed up (when due) as it ends.
enum AutoBackup {
    nonisolated(unsafe) static var library: Library?
}

/// Runs a command body, turning Trove errors into one clear line on stderr and a documented exit
/// code; then, whatever the outcome, backs up the library's records when that is due.
func reportingErrors(_ body: () throws -> Void) throws {
    defer {
        AutoBackup.library?.backupIfDue()
        AutoBackup.library = nil
    }
    do {
        try body()
    } catch let error as TroveError {
        Output.error(error.message)
        throw ExitCode(error.exitCode)
    } catch let error as StoreError {
        Output.error(error.message)
        throw ExitCode(error.troveError.exitCode)
    } catch let failure as POSIX.Failure {
        // A system call's failure that no caller translated: still a documented exit code.
        let error = TroveError.from(failure)
        Output.error(error.message)
        throw ExitCode(error.exitCode)
    }
}

/// Asks for a passphrase on the terminal without echoing it; nil when there is no terminal.
@Sendable func askPassphrase(_ prompt: String) -> String? {
    guard isatty(STDIN_FILENO) != 0, let answer = getpass(prompt) else { return nil }
    let text = String(cString: answer)
    return text.isEmpty ? nil : text
}
