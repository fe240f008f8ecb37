using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Redswitch.Tests.Infrastructure;

/// <summary>A real redis-server on a free 127.0.0.1 port, started and stopped by the tests (no persistence).</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    public int Port { get; }
    public string Url => $"redis://127.0.0.1:{Port}";
    public ConnectionMultiplexer Client { get; private set; } = null!;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public static async Task<RedisServer> StartAsync()
    {
        var exe = FindRedisServer() ?? throw new InvalidOperationException("redis-server is not on PATH: install it (apt-get install redis-server); the end-to-end tests need a real one");
        var port = FreePort.Get();
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning" })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, port);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                server.Client = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},abortConnect=true,connectTimeout=500,allowAdmin=true");
                return server;
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
