using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Prometheus;
using Redswitch.Server.Configuration;
using Redswitch.Server.Logging;
using Redswitch.Server.Metrics;

namespace Redswitch.Server;

/// <summary>Builds the host: the service, plus /metrics, /healthz and /readyz on METRICS_LISTEN (SPEC §10).</summary>
public static class RedswitchApp
{
    public static WebApplication Build(RedswitchOptions options, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        if (logging is not null) logging(builder.Logging);
        else if (options.LogJson)
        {
            builder.Logging.AddConsole(o => o.FormatterName = JsonLineFormatter.FormatterName);
            builder.Logging.AddConsoleFormatter<JsonLineFormatter, ConsoleFormatterOptions>();
        }
        else
            builder.Logging.AddSimpleConsole(o => { o.IncludeScopes = true; o.SingleLine = true; o.UseUtcTimestamp = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("DotNetty", LogLevel.Warning);
        // The host logs a failed start with its stack trace; the serve path reports it as one clear line instead
        // (SPEC §11). Once started, the host's warnings and errors pass as any other.
        var started = new StrongBox<bool>();
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => level >= LogLevel.Warning && Volatile.Read(ref started.Value));

        builder.WebHost.UseKestrel(k => k.Listen(options.MetricsListen));
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.DrainTimeoutSeconds + 20));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<RedswitchMetrics>();
        builder.Services.AddSingleton<RedswitchService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RedswitchService>());

        var app = builder.Build();
        app.Lifetime.ApplicationStarted.Register(() => Volatile.Write(ref started.Value, true));
        var metrics = app.Services.GetRequiredService<RedswitchMetrics>();
        var service = app.Services.GetRequiredService<RedswitchService>();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () =>
        {
            var reason = service.NotReadyReason;
            return reason is null ? Results.Text("ready\n") : Results.Text(reason + "\n", statusCode: 503);
        });
        app.UseMetricServer("/metrics", metrics.Registry);
        return app;
    }

    /// <summary>The address Kestrel actually bound (METRICS_LISTEN may use port 0).</summary>
    public static Uri? MetricsAddress(WebApplication app)
    {
        var addr = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return addr is null ? null : new Uri(addr.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "127.0.0.1"));
    }
}
