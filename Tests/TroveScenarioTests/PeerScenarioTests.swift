import Foundation
import Testing
import TroveTesting

/// Three machines on loopback, each its own library and folders, driven through the real
/// `trove` binary: a NAS serving a hosted store, a desktop that copies onto it, a laptop that
/// reads back from it.
@Suite(.serialized) struct PeerScenarioTests {
    /// `trove serve --listen` for a node named `machine`; stopped when the returned process is terminated.
    static func serve(_ library: String, tank: String?, machine: String) throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: troveBinary())
        process.arguments = ["serve", "--library", library, "--listen", "127.0.0.1:0", "--interval", "3600"]
            + (tank.map { ["--host-store", "tank=\($0)"] } ?? [])
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TROVE_") }
            .merging(["TROVE_LOG_LEVEL": "error", "TROVE_MACHINE_NAME": machine]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        while !text.contains("listening on") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        let match = try #require(text.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression))
        return (process, Int(text[match].split(separator: ":")[1])!)
    }

    /// Pairs `library` (as `label` on the NAS) with the NAS; returns nothing, fails the test on error.
    static func pair(_ library: String, as label: String, can rights: String, nas: String, port: Int, environment: [String: String]) throws {
        let invite = try trove(["peer", "invite", "--label", label, "--can", rights, "--json"], library: nas)
        #expect(invite.status == 0, "\(invite.stderr)")
        let code = try #require(try invite.json()["code"] as? String)
        let join = try trove(["peer", "join", "https://127.0.0.1:\(port)", code, "--label", "nas"], library: library, environment: environment)
        #expect(join.status == 0, "\(join.stderr)")
        #expect(join.stdout.contains("Paired with 'nas'"))
    }

    @Test func aDesktopCopiesToTheNASAndALaptopReadsBackUntilRevoked() throws {
        let folder = TempFolder("trove-peers")
        let nas = folder.at("nas"), desktop = folder.at("desktop"), laptop = folder.at("laptop")
        let onDesktop = ["TROVE_MACHINE_NAME": "desktop"], onLaptop = ["TROVE_MACHINE_NAME": "laptop"]
        for library in [nas, desktop, laptop] { #expect(try trove(["init", "--copies", "2"], library: library).status == 0) }
        #expect(FileManager.default.fileExists(atPath: nas + "/keys/peer-cert.pem"), "init makes the machine's identity")
        let (server, port) = try Self.serve(nas, tank: folder.at("tank"), machine: "nas")
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }

        // The desktop pairs, adds the NAS's store and heals onto it.
        try Self.pair(desktop, as: "desktop", can: "read,write", nas: nas, port: port, environment: onDesktop)
        #expect(try trove(["store", "add", folder.folder("usb"), "--label", "usb"], library: desktop, environment: onDesktop).status == 0)
        let added = try trove(["store", "add", "peer://nas/tank", "--label", "nas-tank"], library: desktop, environment: onDesktop)
        #expect(added.status == 0, "\(added.stderr)")
        let photo = StoreConformance.bytes(12_000_000, seed: 42)
        let photoPath = folder.file("photos/raw.cr3", photo)
        #expect(try trove(["add", photoPath], library: desktop, environment: onDesktop).status == 0)
        let heal = try trove(["heal"], library: desktop, environment: onDesktop)
        #expect(heal.status == 0, "\(heal.stdout)\(heal.stderr)")
        let id = try #require(try trove(["hash", photoPath, "--json"]).json()["id"] as? String)
        let whereis = try trove(["whereis", id], library: desktop, environment: onDesktop)
        #expect(whereis.stdout.contains("nas-tank"), "\(whereis.stdout)")
        let stores = try #require(try trove(["store", "list", "--json"], library: desktop).json()["stores"] as? [[String: Any]])
        let nasTank = try #require(stores.first { $0["label"] as? String == "nas-tank" })
        #expect(nasTank["kind"] as? String == "peer" && nasTank["machine"] as? String == "nas")
        // Verify of the NAS's store runs on the NAS.
        let verify = try trove(["verify", "--store", "nas-tank"], library: desktop, environment: onDesktop)
        #expect(verify.status == 0 && verify.stdout.contains("1 good"), "\(verify.stdout)")

        // The laptop, paired read-only, adopts the same store and reads the photo back from the NAS.
        try Self.pair(laptop, as: "laptop", can: "read", nas: nas, port: port, environment: onLaptop)
        let adopted = try trove(["store", "add", "peer://nas/tank", "--label", "nas-tank"], library: laptop, environment: onLaptop)
        #expect(adopted.status == 0, "\(adopted.stderr)")
        let back = folder.at("back.cr3")
        let get = try trove(["get", id, "--to", back], library: laptop, environment: onLaptop)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(FileManager.default.contents(atPath: back) == Data(photo))
        // A read-only peer cannot write there.
        let other = folder.file("other.txt", Array("more".utf8))
        #expect(try trove(["add", other, "--store", "nas-tank"], library: laptop, environment: onLaptop).status != 0)

        // Revoked on the NAS: the laptop is refused from its next request.
        #expect(try trove(["peer", "revoke", "laptop"], library: nas).status == 0)
        let refused = try trove(["get", id, "--to", folder.at("again.cr3"), "--store", "nas-tank"], library: laptop, environment: onLaptop)
        #expect(refused.status != 0)
        #expect(!FileManager.default.fileExists(atPath: folder.at("again.cr3")))

        // The NAS goes off: the laptop, whose only copy is there, is told to turn the NAS on.
        server.terminate()
        server.waitUntilExit()
        let status = try trove(["status", "--json"], library: laptop, environment: onLaptop)
        #expect(status.status == 2)
        let alerts = try #require(try status.json()["alerts"] as? [[String: Any]])
        let disconnected = try #require(alerts.first { $0["kind"] as? String == "disconnected_drive" }, "\(alerts)")
        #expect((disconnected["message"] as? String)?.contains("the drive inside nas") == true, "\(disconnected)")
        #expect((disconnected["action"] as? String)?.hasPrefix("Turn on nas") == true, "\(disconnected)")
    }
}
