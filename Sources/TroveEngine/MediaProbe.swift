import Foundation

/// Reads what a media file *is* (duration, resolution, creation date) with ffprobe or exiftool
/// when one is installed, so a transcoded or re-saved copy can be matched to its original.
struct MediaProbe {
    /// What identifies a piece of media regardless of its encoding.
    struct Info: Hashable {
        /// Duration in tenths of a second (videos, audio).
        var decis: Int?
        var width: Int?
        var height: Int?
        var created: String?

        var isUseful: Bool { decis != nil || (width != nil && created != nil) }

        var description: String {
            var parts: [String] = []
            if let decis { parts.append("duration \(Double(decis) / 10) s") }
            if let width, let height { parts.append("resolution \(width)x\(height)") }
            if let created { parts.append("created \(created)") }
            return parts.joined(separator: ", ")
        }
    }

    static let mediaExtensions: Set<String> = [
        "mp4", "mov", "m4v", "mkv", "avi", "mts", "m2ts", "webm", "wmv", "mpg", "mpeg", "3gp",
        "mp3", "m4a", "aac", "flac", "wav", "ogg", "opus",
        "jpg", "jpeg", "heic", "png", "tif", "tiff", "cr2", "cr3", "nef", "arw", "dng", "raf", "orf",
    ]

    let tool: (name: String, path: String)?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let folders = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        var found: (String, String)?
        for name in ["ffprobe", "exiftool"] where found == nil {
            if let folder = folders.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/" + name) }) {
                found = (name, folder + "/" + name)
            }
        }
        tool = found
    }

    static func isMedia(_ path: String) -> Bool { mediaExtensions.contains((path as NSString).pathExtension.lowercased()) }

    /// The file's media facts, or nil when no tool is installed or it could not tell.
    func probe(_ path: String) -> Info? {
        guard let tool, Self.isMedia(path), FileManager.default.isReadableFile(atPath: path) else { return nil }
        let arguments = tool.name == "ffprobe"
            ? ["-v", "quiet", "-print_format", "json", "-show_format", "-show_streams", path]
            : ["-json", "-n", "-Duration", "-ImageWidth", "-ImageHeight", "-CreateDate", "-DateTimeOriginal", path]
        guard let data = Self.run(tool.path, arguments),
              let json = try? JSONSerialization.jsonObject(with: data) else { return nil }
        var info = Info()
        if tool.name == "ffprobe", let object = json as? [String: Any] {
            let format = object["format"] as? [String: Any]
            if let text = format?["duration"] as? String, let seconds = Double(text) { info.decis = Int((seconds * 10).rounded()) }
            info.created = (format?["tags"] as? [String: Any])?["creation_time"] as? String
            if let video = (object["streams"] as? [[String: Any]])?.first(where: { $0["codec_type"] as? String == "video" }) {
                info.width = video["width"] as? Int
                info.height = video["height"] as? Int
            }
        } else if let object = (json as? [[String: Any]])?.first {
            if let seconds = object["Duration"] as? Double { info.decis = Int((seconds * 10).rounded()) }
            info.width = object["ImageWidth"] as? Int
            info.height = object["ImageHeight"] as? Int
            info.created = (object["DateTimeOriginal"] ?? object["CreateDate"]).map { "\($0)" }
        }
        return info.isUseful ? info : nil
    }

    static func run(_ executable: String, _ arguments: [String]) -> Data? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? data : nil
    }
}
