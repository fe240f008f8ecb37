using Microsoft.Extensions.Hosting;
using Redswitch.Server;
using Redswitch.Server.Configuration;

if (args.Length > 0)
{
    Console.Error.WriteLine($"redswitch: unknown command '{args[0]}' (no arguments = serve; the operator verbs come with the CLI work)");
    return 2;
}

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
