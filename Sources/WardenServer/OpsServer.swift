//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import NIOHTTP1
import NIOPosix

/// What the ops listener serves; the answers come from the running gateway.
public protocol OpsEndpoints: Sendable {
    /// The Prometheus text exposition.
    func metrics() async -> [UInt8]
    /// Whether the process is alive (its event loops answer).
    func live() async -> Bool
    /// Whether it serves: nil when ready, else why not.
    func notReadyReason() async -> String?
    /// Reloads the configuration.
    func reload() async -> ReloadOutcome
}

/// What a reload request came to.
public enum ReloadOutcome: Sendable {
    case reloaded
    /// The new configuration was refused (every error); the old one keeps serving.
    case refused(String)
    /// This build cannot reload.
    case unsupported(String)
}

/// The HTTP operations listener (NIOHTTP1, on its own event loop, never on the data path):
/// `GET /metrics`, `GET /livez`, `GET /readyz`, `POST /-/reload`. Malformed HTTP gets 400 and the
/// connection closes; an unknown path 404; a wrong method 405.
public final class OpsServer: Sendable {
    private let channel: Channel
    public let localAddress: SocketAddress?

    private init(channel: Channel) {
        self.channel = channel
        self.localAddress = channel.localAddress
    }

    public static func start(
        host: String,
        port: Int,
        group: EventLoopGroup,
        endpoints: any OpsEndpoints
    ) async throws -> OpsServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(OpsHTTPHandler(endpoints: endpoints))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .bind(host: host, port: port)
            .get()
        return OpsServer(channel: channel)
    }

    public func close() async {
        try? await self.channel.close()
    }
}

/// One HTTP connection of the ops listener.
final class OpsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: any OpsEndpoints
    private var head: HTTPRequestHead?

    init(endpoints: any OpsEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // No endpoint takes a body.
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let endpoints = self.endpoints
            let method = head.method
            let version = head.version
            let keepAlive = head.isKeepAlive
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask {
                await Self.answer(method: method, path: path, endpoints: endpoints)
            }.whenSuccess { response in
                let (handler, context) = bound.value
                handler.write(response, version: version, keepAlive: keepAlive, head: method == .HEAD, context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Malformed HTTP: the protocol error handler before us has answered 400; the connection ends.
        context.close(promise: nil)
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var body: [UInt8]
        var contentType = "text/plain; charset=utf-8"
        var allow: String?
    }

    static func answer(method: HTTPMethod, path: String, endpoints: any OpsEndpoints) async -> Response {
        func text(_ status: HTTPResponseStatus, _ body: String) -> Response {
            Response(status: status, body: Array((body + "\n").utf8))
        }
        switch path {
        case "/metrics", "/livez", "/readyz":
            guard method == .GET || method == .HEAD else {
                var response = text(.methodNotAllowed, "use GET")
                response.allow = "GET, HEAD"
                return response
            }
            switch path {
            case "/metrics":
                return Response(
                    status: .ok,
                    body: await endpoints.metrics(),
                    contentType: "text/plain; version=0.0.4; charset=utf-8"
                )
            case "/livez":
                return await endpoints.live() ? text(.ok, "ok") : text(.serviceUnavailable, "event loops do not answer")
            default:
                if let reason = await endpoints.notReadyReason() { return text(.serviceUnavailable, reason) }
                return text(.ok, "ready")
            }
        case "/-/reload":
            guard method == .POST else {
                var response = text(.methodNotAllowed, "use POST")
                response.allow = "POST"
                return response
            }
            switch await endpoints.reload() {
            case .reloaded: return text(.ok, "reloaded")
            case .refused(let errors): return text(.unprocessableEntity, errors)
            case .unsupported(let why): return text(.notImplemented, why)
            }
        default:
            return text(.notFound, "not found: /metrics, /livez, /readyz, POST /-/reload")
        }
    }

    private func write(
        _ response: Response,
        version: HTTPVersion,
        keepAlive: Bool,
        head isHead: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: "\(response.body.count)")
        if let allow = response.allow { headers.add(name: "allow", value: allow) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))),
            promise: nil
        )
        if !isHead {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension OpsHTTPHandler: Sendable {}
