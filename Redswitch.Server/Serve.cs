using Microsoft.Extensions.Hosting;
using Redswitch.Server.Configuration;

namespace Redswitch.Server;

/// <summary>No arguments: the service itself (SPEC §11). Exit 0 after a clean stop, 1 with one clear line when it cannot start.</summary>
internal static class Serve
{
    public static async Task<int> RunAsync()
    {
        var options = RedswitchOptions.FromEnvironment(out var errors);
        if (errors.Count > 0)
        {
            foreach (var line in errors) Console.Error.WriteLine("redswitch: bad configuration: " + line);
            return 1;
        }

        var app = RedswitchApp.Build(options);
        try
        {
            await app.StartAsync();
        }
        catch (StartupException e)
        {
            Console.Error.WriteLine("redswitch: cannot start: " + e.Message);
            return 1;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"redswitch: cannot start: METRICS_LISTEN={options.MetricsListen}: {e.Message}");
            return 1;
        }
        await app.WaitForShutdownAsync();
        return 0;
    }
}
