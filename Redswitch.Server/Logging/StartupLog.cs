using Microsoft.Extensions.Logging;

namespace Redswitch.Server.Logging;

/// <summary>
/// A start-up failure is one clear line (SPEC §11): with text logs <c>redswitch: …</c> on stderr; with JSON logs a
/// JSON line on stdout, where a log collector reads the others. Written directly, not through the logging
/// pipeline: that pipeline is built from the options, which may be what failed.
/// </summary>
public sealed class StartupLog(bool json, TextWriter? stdout = null, TextWriter? stderr = null, TimeProvider? time = null)
{
    public const string Category = "Redswitch.Startup";

    /// <summary>LOG_FORMAT as the environment has it: json only when it says json (a bad value is reported in text).</summary>
    public static bool JsonFromEnvironment() =>
        string.Equals(Environment.GetEnvironmentVariable("LOG_FORMAT")?.Trim(), "json", StringComparison.OrdinalIgnoreCase);

    /// <summary>A line of the start-up that is not a failure (e.g. stopped by SIGTERM before it finished).</summary>
    public void Note(string message)
    {
        if (json) (stdout ?? Console.Out).WriteLine(JsonLogLine.Format((time ?? TimeProvider.System).GetUtcNow(), LogLevel.Information, Category, message, null, null));
        else (stdout ?? Console.Out).WriteLine("redswitch: " + message);
    }

    /// <summary>
    /// One line. An unexpected exception (a fault, not a condition of the environment) also gets its stack: in
    /// the JSON line's <c>exception</c>, or on the lines after the text line.
    /// </summary>
    public void Fail(string message, Exception? unexpected = null)
    {
        if (json)
        {
            (stdout ?? Console.Out).WriteLine(JsonLogLine.Format((time ?? TimeProvider.System).GetUtcNow(), LogLevel.Critical, Category, message, null, unexpected));
            return;
        }
        var err = stderr ?? Console.Error;
        err.WriteLine("redswitch: " + message);
        if (unexpected is not null) err.WriteLine(unexpected.ToString());
    }
}
