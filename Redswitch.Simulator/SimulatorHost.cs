using System.Net;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Redswitch.Protocol.Framing;
using Redswitch.Simulator.Core;
using Redswitch.Simulator.Net;

namespace Redswitch.Simulator;

/// <summary>
/// A running simulator: the inbound ESL listener plus the simulated switch. Start one in-process with
/// <see cref="StartAsync"/> (port 0 picks a free port), point an ESL client at <see cref="Port"/>, and stop it with
/// <see cref="StopAsync"/> or <c>await using</c>. All members are thread-safe; after the stop the
/// <c>…Async</c> queries throw <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    private readonly SimSwitch _sw;
    private readonly MultithreadEventLoopGroup _boss;
    private readonly MultithreadEventLoopGroup _workers;
    private IChannel? _server;
    private readonly List<IChannel> _children = new();
    private int _stopped;

    private SimulatorHost(SimulatorOptions options)
    {
        Options = options;
        _sw = new SimSwitch(options);
        _boss = new MultithreadEventLoopGroup(1);
        _workers = new MultithreadEventLoopGroup(Math.Max(2, Environment.ProcessorCount));
        _sw.Connector = new OutboundConnector(_sw, _workers, options.OutboundConnectTimeout, Track);
    }

    /// <summary>The options this instance runs with.</summary>
    public SimulatorOptions Options { get; }

    /// <summary>The inbound ESL endpoint actually bound (the port is real even when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>The inbound ESL port actually bound.</summary>
    public int Port => EndPoint.Port;

    /// <summary>Sessions created since start (what <c>api status</c> reports as "N session(s) since startup").</summary>
    public long SessionsSinceStartup => _sw.SessionsSinceStartup;

    /// <summary>
    /// Consulted for every command on every connection (inbound and outbound sockets, <c>auth</c> included), with
    /// the command line as sent (e.g. <c>bgapi originate {…}…</c>); a non-null answer replaces the normal handling
    /// (tests of failure paths). Called on the switch's core thread: keep it quick and thread-safe.
    /// </summary>
    public Func<string, CommandFault?>? CommandFaults
    {
        get => _sw.CommandFaults;
        set => _sw.CommandFaults = value;
    }

    /// <summary>Channels currently alive.</summary>
    public int LiveChannels => _sw.LiveChannels;

    /// <summary>Starts the listener. Throws (e.g. <see cref="System.Net.Sockets.SocketException"/>) when it cannot bind.</summary>
    public static async Task<SimulatorHost> StartAsync(SimulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        var host = new SimulatorHost(options ?? new SimulatorOptions());
        try
        {
            await host.BindAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await host.StopAsync().ConfigureAwait(false);
            throw;
        }
        return host;
    }

    /// <summary>A connection to close when the host stops (inbound ones, and the outbound sockets it opened).</summary>
    private void Track(IChannel ch)
    {
        lock (_children) _children.Add(ch);
        _ = ch.CloseCompletion.ContinueWith(_ => { lock (_children) _children.Remove(ch); }, TaskScheduler.Default);
    }

    private async Task BindAsync()
    {
        var sw = _sw;
        var b = new ServerBootstrap()
            .Group(_boss, _workers)
            .Channel<TcpServerSocketChannel>()
            .Option(ChannelOption.SoBacklog, 1024)
            .Option(ChannelOption.SoReuseaddr, true)
            .ChildOption(ChannelOption.TcpNodelay, true)
            .ChildHandler(new ActionChannelInitializer<IChannel>(ch =>
            {
                Track(ch);
                ch.Pipeline.AddLast(new EslCommandDecoder(), new EslMessageEncoder(),
                    new EslSessionHandler(sw, t => sw.AddInboundSession(t)), new EslCodecErrorHandler());
            }));
        _server = await b.BindAsync(new IPEndPoint(Options.ListenAddress, Options.Port)).ConfigureAwait(false);
        var local = (IPEndPoint)_server.LocalAddress;
        EndPoint = new IPEndPoint(local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address, local.Port);
    }

    /// <summary>Overrides the behaviour of one dialled number (the text after the last <c>/</c>, before any <c>@</c>).</summary>
    public void SetBehaviour(string number, PhoneBehaviour behaviour) => _sw.SetBehaviour(number, behaviour);

    /// <summary>Removes the override of one number (back to the last-three-digits rule).</summary>
    public void ClearBehaviour(string number) => _sw.ClearBehaviour(number);

    /// <summary>Removes every override.</summary>
    public void ClearBehaviours() => _sw.ClearBehaviours();

    /// <summary>The behaviour a number would get now.</summary>
    public PhoneBehaviour BehaviourFor(string number) => _sw.BehaviourFor(number);

    /// <summary>True while the channel exists and has not hung up (like <c>uuid_exists</c>).</summary>
    public Task<bool> ChannelExistsAsync(string uuid) => _sw.Invoke(() => _sw.FindChannel(uuid) is { IsHungUp: false });

    /// <summary>A channel variable (as <c>uuid_getvar</c>, including <c>eavesdrop_mode</c>), or null.</summary>
    public Task<string?> GetVariableAsync(string uuid, string name) =>
        _sw.Invoke(() => _sw.FindChannel(uuid) is { } ch ? _sw.GetVar(ch, name) : null);

    /// <summary>The eavesdrop mode of an eavesdropping channel: <c>listen</c>, <c>other</c>, <c>target</c>, <c>both</c>; null otherwise.</summary>
    public Task<string?> GetEavesdropModeAsync(string uuid) =>
        _sw.Invoke(() => _sw.FindChannel(uuid)?.EavesdropMode);

    /// <summary>The phone on this channel presses keys (DTMF-Source RTP): DTMF events, and an eavesdrop takes them as mode changes. False if unknown.</summary>
    public Task<bool> PressKeysAsync(string uuid, string digits) => _sw.Invoke(() =>
    {
        if (_sw.FindChannel(uuid) is not { IsHungUp: false } ch) return false;
        _sw.ReceiveDtmf(ch, digits, "RTP");
        return true;
    });

    /// <summary>
    /// Freezes the simulated FreeSWITCH as SIGSTOP would (a hung host, a long pause): it answers nothing and sends
    /// nothing; connections stay open and their input waits. <see cref="Unstall"/> lets it run on: what was received
    /// meanwhile is executed (also on connections the peer closed since), and after a stall of more than a few seconds
    /// the uptime leaves the stall out while the Core-UUID stays (FreeSWITCH's "Virtual Migration Detected"). Do not call the
    /// other methods of the host while it is stalled: they wait for it.
    /// </summary>
    public void Stall() => _sw.Stall();

    public void Unstall() => _sw.Unstall();

    /// <summary>The phone on this ringing channel answers now (as its answer delay would have it). False if unknown or not ringing.</summary>
    public Task<bool> PickUpAsync(string uuid) => _sw.Invoke(() =>
    {
        if (_sw.FindChannel(uuid) is not { IsHungUp: false, IsAnswered: false, Behaviour: not null } ch) return false;
        _sw.PhoneAnswers(ch);
        return true;
    });

    /// <summary>The uuids of the channels alive now.</summary>
    public Task<IReadOnlyList<string>> GetChannelUuidsAsync() =>
        _sw.Invoke<IReadOnlyList<string>>(() => _sw.AllChannels.Where(c => !c.IsHungUp).Select(c => c.Uuid).ToList());

    /// <summary>Hangs a channel up as <c>uuid_kill</c> would (e.g. to simulate the far end hanging up). False if unknown.</summary>
    public Task<bool> HangupAsync(string uuid, string cause = "NORMAL_CLEARING") => _sw.Invoke(() =>
    {
        var ch = _sw.FindChannel(uuid);
        if (ch == null || ch.IsHungUp) return false;
        _sw.Hangup(ch, Core.HangupCauses.Normalize(cause));
        return true;
    });

    /// <summary>Breaks the outbound <c>socket</c> connection of this channel as a network fault would (no notice). Returns how many broke.</summary>
    public Task<int> BreakOutboundSocketAsync(string uuid) => _sw.Invoke(() => _sw.BreakConnections(inbound: false, uuid));

    /// <summary>Breaks every inbound (controller) connection as a network fault would; the controllers reconnect. Returns how many broke.</summary>
    public Task<int> BreakInboundConnectionsAsync() => _sw.Invoke(() => _sw.BreakConnections(inbound: true, uuid: null));

    /// <summary>Stops listening, closes every connection and stops the switch. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        try
        {
            if (_server != null) await _server.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception) { /* already closed */ }
        IChannel[] children;
        lock (_children) children = _children.ToArray();
        foreach (var c in children)
        {
            try { await c.CloseAsync().ConfigureAwait(false); } catch (Exception) { /* ignore */ }
        }
        await Task.WhenAll(
            _sw.ShutdownAsync(),
            _workers.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1)),
            _boss.ShutdownGracefullyAsync(TimeSpan.Zero, TimeSpan.FromSeconds(1))).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
