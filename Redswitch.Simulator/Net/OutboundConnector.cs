using System.Net;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Redswitch.Protocol.Framing;
using Redswitch.Simulator.Core;
using Redswitch.Simulator.Esl;

namespace Redswitch.Simulator.Net;

/// <summary>Opens the outbound ESL connection of a <c>socket</c> application.</summary>
internal sealed class OutboundConnector : IOutboundConnector
{
    private readonly SimSwitch _sw;
    private readonly IEventLoopGroup _group;
    private readonly TimeSpan _timeout;

    private readonly Action<IChannel>? _opened;

    /// <param name="opened">Each connection made (the host closes them all when it stops, as a dying process would).</param>
    public OutboundConnector(SimSwitch sw, IEventLoopGroup group, TimeSpan timeout, Action<IChannel>? opened = null)
    {
        _sw = sw;
        _group = group;
        _timeout = timeout;
        _opened = opened;
    }

    public void Connect(string host, int port, Func<IEslTransport, EslSession> onConnected, Action onFailed)
    {
        var handler = new EslSessionHandler(_sw, null);
        var b = new Bootstrap()
            .Group(_group)
            .Channel<TcpSocketChannel>()
            .Option(ChannelOption.TcpNodelay, true)
            .Option(ChannelOption.SoKeepalive, true)
            .Option(ChannelOption.ConnectTimeout, _timeout)
            .Handler(new ActionChannelInitializer<IChannel>(ch => ch.Pipeline.AddLast(
                new EslCommandDecoder(), new EslMessageEncoder(), handler, new EslCodecErrorHandler())));
        _ = ConnectAsync(b, host, port, handler, onConnected, onFailed);
    }

    private async Task ConnectAsync(Bootstrap b, string host, int port, EslSessionHandler handler,
        Func<IEslTransport, EslSession> onConnected, Action onFailed)
    {
        IChannel ch;
        try
        {
            EndPoint ep = IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
            ch = await b.ConnectAsync(ep).ConfigureAwait(false);
        }
        catch (Exception)
        {
            onFailed();
            return;
        }
        _opened?.Invoke(ch);
        var t = new EslTransport(ch);
        _sw.Post(() =>
        {
            var s = onConnected(t);
            handler.Attach(s);
            if (!ch.Active) s.OnTransportClosed();
        });
    }
}
