using DotNetty.Transport.Channels;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;
using Redswitch.Simulator.Core;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Net;

/// <summary>Writes ESL frames (Redswitch.Protocol messages) to a DotNetty channel, in call order.</summary>
internal sealed class EslTransport : IEslTransport
{
    private readonly IChannel _channel;

    public EslTransport(IChannel channel)
    {
        _channel = channel;
        Peer = channel.RemoteAddress?.ToString() ?? "?";
    }

    public string Peer { get; }

    private void Write(EslMessage m)
    {
        if (_channel.Active) _channel.WriteAndFlushAsync(m).ContinueWith(static _ => { }, TaskContinuationOptions.OnlyOnFaulted);
    }

    public void AuthRequest() => Write(Redswitch.Protocol.Messages.AuthRequest.Instance);

    public void Reply(string text, IReadOnlyList<KeyValuePair<string, string>>? extraHeaders = null) =>
        Write(CommandReply.Create(text, extraHeaders?.Select(h => (h.Key, h.Value)).ToArray() ?? []));

    public void Api(string body) => Write(ApiResponse.Create(body));

    public void Event(SimEvent ev, EventFormat format) => Write(Serialize(ev, format));

    /// <summary>The wire form of an event, built once per format and shared by every connection.</summary>
    internal static EslEvent Serialize(SimEvent ev, EventFormat format)
    {
        if (format == EventFormat.Json)
            return (EslEvent)(ev.JsonCache ??= EslEvent.Create(EslEventFormat.Json, ev.Headers, ev.Body));
        // XML events cannot be built by Redswitch.Protocol: plain is sent instead (see README)
        return (EslEvent)(ev.PlainCache ??= EslEvent.Create(EslEventFormat.Plain, ev.Headers, ev.Body));
    }

    public void ConnectReply(List<KeyValuePair<string, string>> channelData, string socketMode, string control) =>
        Write(CommandReply.CreateConnectReply(channelData, socketMode, control));

    public void Goodbye(string? boundUuid) => Write(DisconnectNotice.Goodbye(boundUuid));

    public void Linger(string uuid, string channelName, int lingerTime) => Write(DisconnectNotice.Linger(uuid, channelName, lingerTime));

    public void Close()
    {
        if (_channel.Open) _channel.CloseAsync().ContinueWith(static _ => { }, TaskContinuationOptions.OnlyOnFaulted);
    }
}

/// <summary>Feeds decoded commands of one connection to its session on the core thread.</summary>
internal sealed class EslSessionHandler : ChannelHandlerAdapter
{
    private readonly SimSwitch _sw;
    private readonly Func<EslTransport, EslSession?>? _onActive;
    private EslSession? _session;
    private List<EslRequest>? _early;

    /// <param name="onActive">Inbound: creates the session when the connection opens (core thread).</param>
    public EslSessionHandler(SimSwitch sw, Func<EslTransport, EslSession?>? onActive)
    {
        _sw = sw;
        _onActive = onActive;
    }

    /// <summary>Outbound: attaches the session once created (core thread).</summary>
    internal void Attach(EslSession s)
    {
        _session = s;
        if (_early != null)
        {
            foreach (var r in _early) s.Receive(r);
            _early = null;
        }
    }

    public override void ChannelActive(IChannelHandlerContext context)
    {
        if (_onActive != null)
        {
            var t = new EslTransport(context.Channel);
            _sw.Post(() => _session = _onActive(t));
        }
        base.ChannelActive(context);
    }

    public override void ChannelRead(IChannelHandlerContext context, object message)
    {
        if (message is not EslCommand cmd) return;
        var headers = new List<KeyValuePair<string, string>>(cmd.Headers.Count);
        for (int i = 0; i < cmd.Headers.Count; i++)
            headers.Add(new(cmd.Headers.GetName(i), cmd.Headers.GetRawValue(i)));
        var req = new EslRequest(cmd.Line, headers, cmd.Body.Length > 0 ? cmd.BodyText : null);
        _sw.Post(() =>
        {
            if (_session != null) _session.Receive(req);
            else (_early ??= new()).Add(req);
        });
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        _sw.Post(() => _session?.OnTransportClosed());
        base.ChannelInactive(context);
    }

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception) =>
        context.FireExceptionCaught(exception);
}
