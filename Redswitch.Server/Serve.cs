using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Redswitch.Server.Configuration;
using Redswitch.Server.Logging;

namespace Redswitch.Server;

/// <summary>No arguments: the service itself (SPEC §11). Exit 0 after a clean stop, 1 with one clear line when it cannot start.</summary>
internal static class Serve
{
    public static async Task<int> RunAsync()
    {
        // LOG_FORMAT from the environment itself: the options may be what failed.
        var startup = new StartupLog(StartupLog.JsonFromEnvironment());
        var options = RedswitchOptions.FromEnvironment(out var errors);
        if (errors.Count > 0)
        {
            foreach (var line in errors) startup.Fail("bad configuration: " + line);
            return 1;
        }

        var app = RedswitchApp.Build(options);
        string? failure = null;
        Exception? unexpected = null;
        try
        {
            await app.StartAsync();
        }
        catch (StartupException e)
        {
            failure = e.Message;
        }
        catch (IOException e)
        {
            // Kestrel's bind: the only I/O of the start before the service's own, which reports StartupException.
            failure = $"METRICS_LISTEN={options.MetricsListen}: cannot listen: {LogText.ListenFailure(e, options.MetricsListen)}";
        }
        catch (OperationCanceledException)
        {
            failure = "stopped before start-up finished";
        }
        catch (Exception e)
        {
            failure = $"unexpected {e.GetType().Name}: {LogText.FirstLine(e.Message)}";
            unexpected = e;
        }
        if (failure is null)
        {
            await app.WaitForShutdownAsync();
            return 0;
        }
        // What the console logger still holds is written first (its queue is flushed when the host is disposed).
        try { await app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)); }
        catch (Exception) { /* exiting anyway; the line below is what matters */ }
        startup.Fail("cannot start: " + failure, unexpected);
        return 1;
    }
}
