using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Redswitch.Server.Logging;

/// <summary>
/// LOG_FORMAT=json: one <see cref="JsonLogLine"/> per entry. The dial_id is taken from the message's own arguments
/// (<c>{DialId}</c>, <c>{dial_id}</c>) first, which name the call the line is about, else from the innermost scope
/// that carries one (<see cref="Calls.DialScope"/>). Other scope state is not written: nested scopes would make a
/// field's origin ambiguous, and the call's scope holds only the dial_id.
/// </summary>
public sealed class JsonLineFormatter : ConsoleFormatter
{
    public const string FormatterName = "redswitch-json";

    private readonly TimeProvider _time;

    /// <summary>For the console logger. Its formatter options are not read: the timestamp is always UTC with
    /// milliseconds, and the dial_id is always looked for in the scopes.</summary>
    public JsonLineFormatter(IOptionsMonitor<ConsoleFormatterOptions> options) : this(TimeProvider.System) { }

    internal JsonLineFormatter(TimeProvider time) : base(FormatterName) => _time = time;

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        var values = logEntry.State as IEnumerable<KeyValuePair<string, object?>>;
        var dialId = values is null ? null : JsonLogLine.FindDialId(values);
        if (dialId is null && scopeProvider is not null)
        {
            // Outermost first: the last one found is the innermost.
            var found = new StrongBox<string?>();
            scopeProvider.ForEachScope(static (scope, box) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> items && JsonLogLine.FindDialId(items) is { } id) box.Value = id;
            }, found);
            dialId = found.Value;
        }
        textWriter.Write(JsonLogLine.Format(_time.GetUtcNow(), logEntry.LogLevel, logEntry.Category, message, dialId, logEntry.Exception, values));
        textWriter.Write('\n');
    }
}
