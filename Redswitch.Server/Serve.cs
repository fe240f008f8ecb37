using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
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
        catch (IOException e) when (IsBindFailure(e))
        {
            // Kestrel's bind (the service's own steps report StartupException)
            failure = $"METRICS_LISTEN={options.MetricsListen}: cannot listen: {LogText.ListenFailure(e, options.MetricsListen)}";
        }
        catch (OperationCanceledException)
        {
            // SIGTERM while starting (e.g. waiting for Redis): what had started is stopped as usual, and that is a
            // clean stop, exit 0 (SPEC §11), not a failure to start.
            var service = app.Services.GetRequiredService<RedswitchService>();
            try { await service.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(options.DrainTimeoutSeconds + 20)); }
            catch (Exception) { /* exiting anyway */ }
            try { await app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)); }
            catch (Exception) { /* exiting anyway */ }
            startup.Note("stopped before start-up finished");
            return 0;
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

    private static bool IsBindFailure(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is System.Net.Sockets.SocketException or Microsoft.AspNetCore.Connections.AddressInUseException) return true;
        return false;
    }
}
