using System.Net;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Microsoft.Extensions.Logging;
using Redswitch.Protocol;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Calls;
using Redswitch.Server.Configuration;
using Redswitch.Server.Metrics;

namespace Redswitch.Server.Esl;

/// <summary>
/// Accepts FreeSWITCH's <c>socket</c> connections (SPEC §7): refuses peers outside OUTBOUND_ALLOW, sends
/// <c>connect</c> (closing a peer that does not answer it within <see cref="ConnectTimeout"/>), and hands the session to the
/// owner of the channel's uuid; channels no call owns are refused. Every refusal is counted by reason.
/// </summary>
public sealed class OutboundServer(RedswitchOptions options, CallRegistry registry, IEventLoopGroup boss, IEventLoopGroup workers, RedswitchMetrics metrics, ILogger logger, TimeProvider time)
    : IEslSessionListener, IAsyncDisposable
{
    private IChannel? _listener;
    /// <summary>The call each accepted session belongs to.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<EslSession, CallOwner> _owners = new();

    public IPEndPoint? BoundEndPoint => _listener?.LocalAddress as IPEndPoint;

    public async Task StartAsync()
    {
        var bootstrap = new ServerBootstrap()
            .Group(boss, workers)
            .Channel<TcpServerSocketChannel>()
            .Option(ChannelOption.SoBacklog, 1024)
            .Option(ChannelOption.SoReuseaddr, true)
            .ChildOption(ChannelOption.TcpNodelay, true)
            .ChildHandler(new ActionChannelInitializer<ISocketChannel>(ch =>
            {
                var remote = (ch.RemoteAddress as IPEndPoint)?.Address;
                if (remote is null || !options.OutboundAllow.Any(c => c.Contains(remote)))
                {
                    logger.LogWarning("outbound connection from {Peer} refused: not in OUTBOUND_ALLOW", ch.RemoteAddress);
                    Refused("not_allowed");
                    ch.CloseAsync();
                    return;
                }
                ch.Pipeline.AddLast("decoder", new EslFrameDecoder());
                ch.Pipeline.AddLast("encoder", new EslCommandEncoder());
                ch.Pipeline.AddLast("session", new EslSession(this, "outbound", metrics, logger));
                ch.Pipeline.AddLast("errors", new EslCodecErrorHandler(logger, _ => Refused("framing")));
            }));
        _listener = await bootstrap.BindAsync(options.OutboundListen).ConfigureAwait(false);
    }

    /// <summary>FreeSWITCH answers <c>connect</c> in milliseconds; an idle or trickling peer must not hold a socket (SPEC §7).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private void Refused(string reason) => metrics.OutboundRefused.WithLabels(reason).Inc();

    /// <summary>
    /// A caller's connection for a call this instance does not own: its owner may have died while the caller rang,
    /// and FreeSWITCH tried the next host of the list (SPEC §8.1). Returns the call's owner here once it is claimed,
    /// or null (the connection is refused).
    /// </summary>
    public Func<string, string, Task<CallOwner?>>? ForeignCall { get; set; }

    void IEslSessionListener.OnActive(EslSession session)
    {
        var answered = 0;
        var timer = time.CreateTimer(_ =>
        {
            if (Interlocked.Exchange(ref answered, 1) != 0) return;
            logger.LogWarning("outbound connection from {Peer} closed: no reply to connect within {Seconds} s", session.Remote, ConnectTimeout.TotalSeconds);
            Refused("timeout");
            session.Close();
        }, null, ConnectTimeout, Timeout.InfiniteTimeSpan);
        session.TrySend(EslCommands.Connect(), reply =>
        {
            timer.Dispose();
            if (Interlocked.Exchange(ref answered, 1) != 0) return; // timed out meanwhile: already closed and counted
            if (reply is null) return; // the peer closed first
            if (reply is not CommandReply { IsConnectReply: true } connect)
            {
                logger.LogWarning("outbound connection from {Peer}: no channel data in reply to connect", session.Remote);
                Refused("framing");
                session.Close();
                return;
            }
            var uuid = connect.ChannelData["Unique-ID"] ?? connect.ChannelData["Channel-Unique-ID"];
            var owner = registry.ByUuid(uuid);
            var dialId = connect.ChannelData["variable_dial_id"];
            if (owner is null && dialId is not null && uuid is not null && ForeignCall is { } claim)
            {
                _ = claim(dialId, uuid).ContinueWith(t =>
                {
                    if (t.IsFaulted) logger.LogWarning("claiming dial_id {DialId} for its caller's connection failed: {Reason}", dialId, LogText.FirstLine(t.Exception!.GetBaseException().Message));
                    Attach(session, t.IsCompletedSuccessfully ? t.Result : null, uuid, dialId);
                }, TaskScheduler.Default);
                return;
            }
            Attach(session, owner, uuid, dialId);
        });
    }

    private void Attach(EslSession session, CallOwner? owner, string? uuid, string? dialId)
    {
        if (owner is null || (dialId is not null && dialId != owner.DialId) || !string.Equals(uuid, owner.CallerUuid, StringComparison.OrdinalIgnoreCase))
        {
            logger.LogWarning("outbound connection from {Peer} for channel {Uuid} (dial_id {DialId}) refused: no call of this instance", session.Remote, uuid, dialId);
            Refused("unknown_call");
            session.TrySend(EslCommands.Exit(), _ => session.Close());
            return;
        }
        _owners[session] = owner;
        if (!owner.OnSocketConnected(session)) _owners.TryRemove(session, out _);
        // It may have closed while its call was being claimed: its close found no owner then.
        else if (!session.IsOpen && _owners.TryRemove(session, out _)) owner.OnSocketClosed(session);
    }

    void IEslSessionListener.OnEvent(EslSession session, EslEvent evt)
    {
        if (_owners.TryGetValue(session, out var owner)) owner.OnSocketEvent(evt);
    }

    void IEslSessionListener.OnOther(EslSession session, EslMessage message)
    {
        // Disconnect notices (linger, goodbye) need no action: we close on our own exit (SPEC §7).
    }

    void IEslSessionListener.OnClosed(EslSession session)
    {
        if (_owners.TryRemove(session, out var owner)) owner.OnSocketClosed(session);
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null) await _listener.CloseAsync().ConfigureAwait(false);
    }
}
