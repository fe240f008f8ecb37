using System.Net;
using System.Net.Sockets;
using System.Text;
using DotNetty.Buffers;
using DotNetty.Transport.Channels.Embedded;
using Redswitch.Protocol.Framing;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Simulator;

/// <summary>
/// A minimal ESL peer for tests over real loopback sockets: raw bytes out, frames in through
/// Redswitch.Protocol's <see cref="EslFrameDecoder"/> (so every frame the simulator sends is also a decoder test).
/// </summary>
public sealed class EslTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly EmbeddedChannel _decoder = new(new EslFrameDecoder());
    private readonly List<EslMessage> _all = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _reader;
    private int _cursor;
    private int _replyCursor;

    private EslTestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _tcp.NoDelay = true;
        _stream = tcp.GetStream();
        _reader = Task.Run(ReadLoop);
    }

    public bool Closed { get; private set; }
    public Exception? DecodeError { get; private set; }

    /// <summary>Every frame received so far, in order.</summary>
    public IReadOnlyList<EslMessage> All { get { lock (_all) return _all.ToList(); } }

    public static async Task<EslTestClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(IPAddress.Loopback, port).WaitAsync(DefaultTimeout);
        return new EslTestClient(tcp);
    }

    /// <summary>Connects and authenticates (auth/request, auth, +OK accepted).</summary>
    public static async Task<EslTestClient> ConnectAuthedAsync(int port, string password = "ClueCon")
    {
        var c = await ConnectAsync(port);
        await c.WaitForAsync(m => m is AuthRequest);
        var r = await c.CommandAsync("auth " + password);
        Assert.That(r.ReplyText, Is.EqualTo("+OK accepted"));
        return c;
    }

    public static EslTestClient FromAccepted(TcpClient tcp) => new(tcp);

    private async Task ReadLoop()
    {
        var buf = new byte[65536];
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                var n = await _stream.ReadAsync(buf, _cts.Token);
                if (n == 0) break;
                _decoder.WriteInbound(Unpooled.CopiedBuffer(buf, 0, n));
                object? m;
                while ((m = _decoder.ReadInbound<object>()) != null)
                {
                    lock (_all) _all.Add((EslMessage)m);
                    _signal.Release();
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
        }
        catch (Exception e)
        {
            DecodeError = e;
        }
        Closed = true;
        _signal.Release();
    }

    public async Task SendRawAsync(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Sends a command (first line, optional header lines, optional body) terminated by a blank line.</summary>
    public Task SendAsync(string line, params (string Name, string Value)[] headers)
    {
        var sb = new StringBuilder(line).Append('\n');
        foreach (var (n, v) in headers) sb.Append(n).Append(": ").Append(v).Append('\n');
        sb.Append('\n');
        return SendRawAsync(sb.ToString());
    }

    /// <summary>Waits for the next frame (after the ones already consumed) matching <paramref name="pred"/>.</summary>
    public async Task<EslMessage> WaitForAsync(Func<EslMessage, bool> pred, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            lock (_all)
            {
                for (int i = _cursor; i < _all.Count; i++)
                    if (pred(_all[i])) { _cursor = i + 1; return _all[i]; }
            }
            if (DecodeError != null) throw new AssertionException("decoder failed: " + DecodeError);
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || (Closed && _signal.CurrentCount == 0 && !await _signal.WaitAsync(50)))
            {
                if (Closed) lock (_all) { for (int i = _cursor; i < _all.Count; i++) if (pred(_all[i])) { _cursor = i + 1; return _all[i]; } }
                throw new TimeoutException($"no frame matching {what ?? "predicate"} (closed={Closed}); got: " +
                    string.Join(" | ", All.Skip(Math.Max(0, All.Count - 8)).Select(Describe)));
            }
            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public Task<EslMessage> WaitForEventAsync(string name, string? uniqueId = null, TimeSpan? timeout = null) =>
        WaitForAsync(m => m is EslEvent e && e.EventName == name && (uniqueId == null || e.UniqueId == uniqueId), timeout, $"event {name} {uniqueId}");

    /// <summary>The next command/reply or api/response after the last one returned (events are skipped, not consumed).</summary>
    public async Task<EslMessage> NextReplyAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            lock (_all)
            {
                for (int i = _replyCursor; i < _all.Count; i++)
                    if (_all[i] is CommandReply or ApiResponse) { _replyCursor = i + 1; return _all[i]; }
            }
            if (DateTime.UtcNow > deadline || (Closed && _signal.CurrentCount == 0))
                throw new TimeoutException("no reply; got: " + string.Join(" | ", All.Skip(Math.Max(0, All.Count - 8)).Select(Describe)));
            await _signal.WaitAsync(TimeSpan.FromMilliseconds(100));
        }
    }

    public async Task<CommandReply> CommandAsync(string line, params (string Name, string Value)[] headers)
    {
        await SendAsync(line, headers);
        var m = await NextReplyAsync();
        return m as CommandReply ?? throw new AssertionException($"expected command/reply to '{line}', got {Describe(m)}");
    }

    public async Task<string> ApiAsync(string command, TimeSpan? timeout = null)
    {
        await SendAsync("api " + command);
        var m = await NextReplyAsync(timeout);
        return m is ApiResponse a ? a.BodyText : throw new AssertionException($"expected api/response to '{command}', got {Describe(m)}");
    }

    /// <summary>bgapi, then waits for its BACKGROUND_JOB (the connection must be subscribed) and returns the body.</summary>
    public async Task<string> BgApiAsync(string command, TimeSpan? timeout = null)
    {
        var r = await CommandAsync("bgapi " + command);
        var job = r.JobUuid ?? throw new AssertionException("no Job-UUID in " + r.ReplyText);
        var ev = (EslEvent)await WaitForAsync(m => m is EslEvent e && e.EventName == "BACKGROUND_JOB" && e.JobUuid == job, timeout, "BACKGROUND_JOB " + job);
        return ev.EventBodyText ?? "";
    }

    public async Task WaitClosedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!Closed)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("connection still open");
            await Task.Delay(20);
        }
    }

    public IEnumerable<EslEvent> Events => All.OfType<EslEvent>();

    public static string Describe(EslMessage m) => m switch
    {
        EslEvent e => $"event {e.EventName} {e.UniqueId}",
        CommandReply r => "reply " + r.ReplyText.Split('\n')[0],
        ApiResponse a => "api " + a.BodyText.TrimEnd(),
        DisconnectNotice d => "disconnect " + d.Disposition,
        _ => m.ContentType ?? "?",
    };

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        try { _tcp.Close(); } catch (Exception) { }
        try { await _reader.WaitAsync(TimeSpan.FromSeconds(2)); } catch (Exception) { }
        _decoder.Finish();
    }
}

/// <summary>A controller's outbound socket server on 127.0.0.1 (port 0): accepts the simulator's socket-app connections.</summary>
public sealed class OutboundTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public OutboundTestServer() => _listener.Start();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async Task<EslTestClient> AcceptAsync(TimeSpan? timeout = null)
    {
        var tcp = await _listener.AcceptTcpClientAsync().WaitAsync(timeout ?? EslTestClient.DefaultTimeout);
        return EslTestClient.FromAccepted(tcp);
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        return ValueTask.CompletedTask;
    }
}
