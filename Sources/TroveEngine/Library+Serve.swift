import Foundation
import TroveCore
import TroveStorage

/// How `trove serve` paces its work.
public struct ServeOptions: Sendable {
    /// Seconds between passes.
    public var interval: TimeInterval = 300
    /// Copies re-verified per scrub pass.
    public var scrubCopies = 200
    /// Seconds between catalog checks.
    public var checkInterval: TimeInterval = 86_400
    public var heal = HealOptions()
    /// Stop after this many passes (nil = until stopped).
    public var passes: Int?
    /// Told each pass's observation of the stores (the HTTPS API answers from it).
    public var observed: (@Sendable ([ObservedStore]) -> Void)?
    /// Told how far each heal and scrub has come (the HTTPS API's `/v1/progress`).
    public var progress: any ProgressReporter = SilentProgress()
    public init() {}
}

extension Library {
    /// Keeps the library safe until `shouldStop` says so: each pass observes the stores (applying
    /// the lifecycle rules), heals, scrubs a bounded slice and, now and then, checks the catalog.
    /// Stores added or removed meanwhile are picked up on the next pass. A failing pass is logged
    /// and the loop goes on.
    public func serve(_ options: ServeOptions, shouldStop: @escaping @Sendable () -> Bool) {
        var pass = 0
        var lastCheck = Date.distantPast
        logger.notice("trove serve started", metadata: ["library": "\(path)", "interval": "\(options.interval)"])
        while !shouldStop() {
            pass += 1
            do {
                let observation = try observe()
                options.observed?(observation)
                let status = try report(observed: observation)
                do { try snapshotDueFolders() } catch {
                    logger.error("scheduled snapshots failed", metadata: ["error": "\(error)"])
                }
                let heal = try heal(options: options.heal, progress: options.progress)
                let scrub = try scrub(maxCopies: options.scrubCopies, progress: options.progress)
                // The library's records follow the changes into the stores (debounced).
                backupIfDue()
                if Date().timeIntervalSince(lastCheck) >= options.checkInterval {
                    let check = try checkCatalog()
                    lastCheck = Date()
                    if !check.ok { logger.error("catalog check failed", metadata: ["failures": "\(check.failures.count)"]) }
                }
                logger.info("pass finished", metadata: [
                    "pass": "\(pass)", "files": "\(status.files)", "alerts": "\(status.alerts.map(\.kind))",
                    "copies_made": "\(heal.copiesMade)", "scrubbed": "\(scrub.checked)", "corrupt": "\(scrub.corrupt.count)",
                ])
            } catch let error as TroveError where error.code == .busy {
                logger.info("pass skipped", metadata: ["reason": "\(error.message)"])
            } catch {
                logger.error("pass failed", metadata: ["error": "\(error)"])
            }
            if let passes = options.passes, pass >= passes { break }
            let deadline = Date() + options.interval
            while Date() < deadline && !shouldStop() { Thread.sleep(forTimeInterval: min(0.2, options.interval)) }
        }
        logger.notice("trove serve stopped", metadata: ["passes": "\(pass)"])
    }
}
