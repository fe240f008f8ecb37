using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Redswitch.Tests.Infrastructure;

/// <summary>
/// A real redis-server on a free 127.0.0.1 port, started and stopped by the tests: no persistence, or append-only
/// (AOF, fsync always) in a directory of its own; it can be killed (SIGKILL) and restarted on the same port.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process _process;
    private readonly string? _aofDir;

    public int Port { get; }
    public string Url => $"redis://127.0.0.1:{Port}";
    public ConnectionMultiplexer Client { get; private set; } = null!;

    private RedisServer(Process process, int port, string? aofDir)
    {
        _process = process;
        Port = port;
        _aofDir = aofDir;
    }

    public static async Task<RedisServer> StartAsync(bool appendOnly = false)
    {
        var port = FreePort.Get();
        var dir = appendOnly ? Directory.CreateTempSubdirectory("redswitch-redis-").FullName : null;
        var server = new RedisServer(Launch(port, dir), port, dir);
        await server.ConnectAsync();
        return server;
    }

    private static Process Launch(int port, string? aofDir)
    {
        var exe = FindRedisServer() ?? throw new InvalidOperationException("redis-server is not on PATH: install it (apt-get install redis-server); the end-to-end tests need a real one");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] persistence = aofDir is null
            ? ["--save", "", "--appendonly", "no"]
            : ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", aofDir];
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--daemonize", "no", "--loglevel", "warning" }.Concat(persistence))
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>SIGKILL: no goodbye to any client, nothing saved beyond what the AOF has.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
    }

    /// <summary>A new redis-server on the same port (and AOF directory); <see cref="Client"/> reconnects by itself.</summary>
    public async Task RestartAsync()
    {
        _process.Dispose();
        _process = Launch(Port, _aofDir);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Port},abortConnect=true,connectTimeout=500");
                var loading = (string?)await probe.GetServer("127.0.0.1", Port).ExecuteAsync("INFO", "persistence") ?? "";
                if (!loading.Contains("loading:1")) return;
            }
            catch (RedisConnectionException) when (sw.Elapsed < TimeSpan.FromSeconds(10) && !_process.HasExited) { }
            await Task.Delay(20);
        }
    }

    private async Task ConnectAsync()
    {
        var process = _process;
        var port = Port;
        var server = this;
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                server.Client = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},abortConnect=true,connectTimeout=500,allowAdmin=true");
                return;
            }
            catch (RedisConnectionException) when (sw.Elapsed < TimeSpan.FromSeconds(10) && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public IDatabase Db => Client.GetDatabase();

    public async Task FlushAsync() => await Client.GetServer("127.0.0.1", Port).FlushAllDatabasesAsync();

    private static string? FindRedisServer()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]))
        {
            var p = Path.Combine(dir, "redis-server");
            if (File.Exists(p)) return p;
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try { await Client.CloseAsync(); } catch { /* ignore */ }
        Client?.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch { /* already gone */ }
        _process.Dispose();
        if (_aofDir is not null) try { Directory.Delete(_aofDir, true); } catch (IOException) { }
    }
}

public static class FreePort
{
    public static int Get()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
