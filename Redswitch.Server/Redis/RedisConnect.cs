using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Redswitch.Server.Redis;

/// <summary>
/// The start-up connection to Redis. PUBSUB_REDIS_TIMEOUT is the time allowed to connect (SPEC §2): a refused
/// connection (Redis still starting beside this instance) is tried again until it is spent, and then the line
/// says what happened, in this service's words. Wrong credentials end it at once: trying them again cannot help.
/// </summary>
/// <remarks>
/// Each round first opens a plain TCP connection to the endpoints: it tells a refusal from silence or a name that
/// does not resolve, which the client library does not say (its message is advice about its own settings), and
/// it fails in milliseconds where the library sometimes waits its whole connect timeout on a refused port.
/// </remarks>
public static class RedisConnect
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestProbe = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan FirstAttemptWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ShortestRound = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Connects within <paramref name="allowance"/> counted from <paramref name="since"/> (a <see cref="Stopwatch"/>
    /// timestamp, so that several connections share one allowance), or throws a <see cref="StartupException"/>
    /// whose message starts with <paramref name="setting"/>.
    /// </summary>
    public static async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options, TimeSpan allowance, long since, string setting,
        CancellationToken cancellationToken)
    {
        var pause = FirstPause;
        var attemptWait = FirstAttemptWait;
        string why;
        while (true)
        {
            var (open, closed) = await ProbeAllAsync(options.EndPoints, Shorter(Left(), LongestProbe), cancellationToken).ConfigureAwait(false);
            why = closed;
            if (open)
            {
                var attempt = options.Clone();
                attempt.AbortOnConnectFail = true; // each attempt fails fast; this loop is the retry
                attempt.ConnectRetry = 1;
                // On the thread pool: against a port that does not speak TLS, the library's rediss:// handshake
                // sometimes blocks the calling thread for good before it returns a task; the wait below must still end.
                var connecting = Task.Run(() => ConnectionMultiplexer.ConnectAsync(attempt), CancellationToken.None);
                try
                {
                    // The attempt's own ConnectTimeout (the whole allowance) stays for later reconnects. The wait is
                    // shorter at first: the library's first connect in a process sometimes sits out that whole timeout
                    // before it reports what it already knew (a refused password); the next attempt says it at once.
                    var wait = Shorter(Left(), attemptWait);
                    attemptWait *= 2;
                    return await connecting.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    _ = connecting.ContinueWith(t => { if (t.IsCompletedSuccessfully) t.Result.Dispose(); }, TaskScheduler.Default);
                    if (e is OperationCanceledException) throw;
                    why = "the port accepts connections, but Redis did not answer";
                }
                catch (RedisConnectionException e) when (e.FailureType == ConnectionFailureType.AuthenticationFailure)
                {
                    throw new StartupException($"{setting}: Redis refused the credentials ({(e.InnerException is { } inner ? LogText.FirstLine(inner.Message) : "authentication failed")})");
                }
                catch (RedisConnectionException e)
                {
                    // The server's reply or the TLS error, when there is one: never the library's advice about its settings.
                    why = e.InnerException is { } inner ? LogText.FirstLine(inner.GetBaseException().Message) : "the port accepts connections, but no Redis session could be set up";
                }
            }
            // A round needs time to tell anything: a probe cut short would only say "no answer".
            var left = Left();
            if (left <= ShortestRound) break;
            await Task.Delay(Shorter(pause, left - ShortestRound), cancellationToken).ConfigureAwait(false);
            pause = Shorter(pause * 2, LongestPause);
        }
        throw new StartupException($"{setting}: Redis not reachable within {allowance.TotalSeconds:0.#} s ({why})");

        TimeSpan Left() => allowance - Stopwatch.GetElapsedTime(since);
    }

    private static TimeSpan Shorter(TimeSpan a, TimeSpan b)
    {
        var t = a < b ? a : b;
        return t > TimeSpan.Zero ? t : TimeSpan.Zero;
    }

    /// <summary>Whether any endpoint accepts a TCP connection within <paramref name="limit"/>; if none, why not, endpoint by endpoint.</summary>
    private static async Task<(bool Open, string Closed)> ProbeAllAsync(EndPointCollection endPoints, TimeSpan limit, CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(endPoints.Select(ep => ProbeAsync(ep, limit, cancellationToken))).ConfigureAwait(false);
        if (results.Any(r => r is null)) return (true, "");
        return (false, string.Join("; ", endPoints.Zip(results, (ep, r) => $"{Show(ep)}: {r}")));
    }

    /// <summary>Null when <paramref name="endPoint"/> accepts a TCP connection within <paramref name="limit"/>, else why not.</summary>
    internal static async Task<string?> ProbeAsync(EndPoint endPoint, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(limit);
        try
        {
            await socket.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "no answer";
        }
        catch (SocketException s)
        {
            return s.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.TimedOut => "no answer",
                SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "host name does not resolve",
                SocketError.NetworkUnreachable => "network unreachable",
                SocketError.HostUnreachable => "host unreachable",
                _ => LogText.FirstLine(s.Message),
            };
        }
    }

    internal static string Show(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint d => $"{d.Host}:{d.Port}",
        _ => endPoint.ToString() ?? "?",
    };
}
