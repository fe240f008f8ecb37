using System.Threading.Channels;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Redswitch.Protocol;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Configuration;

namespace Redswitch.Server.Cli;

/// <summary>
/// One inbound ESL connection as the service opens it (same codec, same credentials): auth, then <c>api status</c>
/// and the node's Core-UUID. The answer is one line, good or bad.
/// </summary>
internal sealed class EslProbe : SimpleChannelInboundHandler<EslMessage>
{
    private readonly Channel<EslMessage> _received = Channel.CreateUnbounded<EslMessage>();

    protected override void ChannelRead0(IChannelHandlerContext ctx, EslMessage msg) => _received.Writer.TryWrite(msg);

    public override void ChannelInactive(IChannelHandlerContext ctx)
    {
        _received.Writer.TryComplete();
        base.ChannelInactive(ctx);
    }

    public override void ExceptionCaught(IChannelHandlerContext ctx, Exception e)
    {
        _received.Writer.TryComplete(e);
        ctx.CloseAsync();
    }

    private async Task<EslMessage?> NextAsync(CancellationToken ct)
    {
        try
        {
            return await _received.Reader.ReadAsync(ct);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>(true, what the node says) or (false, why not).</summary>
    public static async Task<(bool Ok, string Line)> CheckAsync(EslNode node, string password, TimeSpan timeout, CancellationToken ct)
    {
        var group = new MultithreadEventLoopGroup(1);
        var probe = new EslProbe();
        IChannel? channel = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            var bootstrap = new Bootstrap().Group(group).Channel<TcpSocketChannel>()
                .Option(ChannelOption.TcpNodelay, true)
                .Option(ChannelOption.ConnectTimeout, timeout)
                .Handler(new ActionChannelInitializer<ISocketChannel>(ch =>
                {
                    ch.Pipeline.AddLast("decoder", new EslFrameDecoder());
                    ch.Pipeline.AddLast("encoder", new EslCommandEncoder());
                    ch.Pipeline.AddLast("probe", probe);
                }));
            try
            {
                channel = await bootstrap.ConnectAsync(node.Host, node.Port).WaitAsync(deadline.Token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return (false, $"cannot connect: {LogText.FirstLine((e.InnerException ?? e).Message)}");
            }

            switch (await probe.NextAsync(deadline.Token))
            {
                case AuthRequest:
                    break;
                case RudeRejection:
                    return (false, "refused by the node's ACL (event_socket.conf.xml apply-inbound-acl does not allow this host)");
                case null:
                    return (false, "closed the connection before asking for auth: not an event socket?");
                case var other:
                    return (false, $"sent {other.ContentType ?? "a frame without Content-Type"} instead of auth/request: not an event socket?");
            }
            await channel.WriteAndFlushAsync(EslCommands.Auth(password));
            if (await probe.NextAsync(deadline.Token) is not CommandReply { IsOk: true } auth)
                return (false, "authentication refused (ESL_PASSWORD)");

            await channel.WriteAndFlushAsync(EslCommands.Api("status"));
            var status = await probe.NextAsync(deadline.Token) as ApiResponse;
            await channel.WriteAndFlushAsync(EslCommands.Api("global_getvar core_uuid"));
            var core = await probe.NextAsync(deadline.Token) as ApiResponse;
            var lines = (status?.BodyText ?? "").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var version = lines.FirstOrDefault(l => l.StartsWith("FreeSWITCH", StringComparison.Ordinal)) ?? "status unreadable";
            var uptime = lines.FirstOrDefault(l => l.StartsWith("UP ", StringComparison.Ordinal));
            var sessions = lines.FirstOrDefault(l => l.Contains("session(s) -", StringComparison.Ordinal));
            var parts = new List<string> { "authenticated", version };
            if (uptime is not null) parts.Add(uptime.Split(", ").Length > 5 ? string.Join(", ", uptime.Split(", ")[..5]) : uptime);
            if (sessions is not null) parts.Add(sessions);
            if (core is { IsError: false } && core.BodyText.Trim() is { Length: > 0 } uuid) parts.Add("core " + uuid);
            return (true, string.Join("; ", parts));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (false, $"no answer within {timeout.TotalSeconds:0} s");
        }
        finally
        {
            if (channel is not null) await channel.CloseAsync();
            await group.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromMilliseconds(200));
        }
    }
}
