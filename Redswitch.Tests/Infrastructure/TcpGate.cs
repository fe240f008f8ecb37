using System.Net;
using System.Net.Sockets;

namespace Redswitch.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay in front of a server the test controls: while closed, it drops every connection through it
/// and refuses new ones, so the client sees its server unreachable; opened again, connections go through. Tests use
/// it to decide when a client gets its server back (after the test's own observers are ready).
/// </summary>
public sealed class TcpGate : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(TcpClient Down, TcpClient Up)> _pairs = [];
    private readonly Task _accepting;
    private volatile bool _open = true;

    public TcpGate(int upstreamPort)
    {
        _upstream = upstreamPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }
    public string RedisUrl => $"redis://127.0.0.1:{Port}";
    public int Connections { get { lock (_pairs) return _pairs.Count; } }

    /// <summary>Drops every connection and refuses new ones until <see cref="Open"/>.</summary>
    public void Close()
    {
        _open = false;
        lock (_pairs)
        {
            foreach (var (down, up) in _pairs) { down.Dispose(); up.Dispose(); }
            _pairs.Clear();
        }
    }

    public void Open() => _open = true;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient down;
            try { down = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            if (!_open)
            {
                down.Dispose();
                continue;
            }
            var up = new TcpClient();
            try { await up.ConnectAsync(IPAddress.Loopback, _upstream, _stop.Token); }
            catch (Exception)
            {
                up.Dispose();
                down.Dispose();
                continue;
            }
            lock (_pairs) _pairs.Add((down, up));
            _ = RelayAsync(down, up);
        }
    }

    private async Task RelayAsync(TcpClient down, TcpClient up)
    {
        try
        {
            var a = down.GetStream().CopyToAsync(up.GetStream(), _stop.Token);
            var b = up.GetStream().CopyToAsync(down.GetStream(), _stop.Token);
            await Task.WhenAny(a, b);
        }
        catch (Exception) { /* either side gone */ }
        finally
        {
            lock (_pairs) _pairs.Remove((down, up));
            down.Dispose();
            up.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Close();
        try { await _accepting; } catch (Exception) { }
    }
}
