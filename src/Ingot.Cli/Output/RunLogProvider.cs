using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ingot.Http;
using Ingot.Observability;
using Microsoft.Extensions.Logging;

namespace Ingot.Cli.Output;

internal enum LogFormat { Json, Text }

/// <summary>
/// The CLI's logging provider: every <see cref="ILogger"/> event of a run becomes one line, JSON (DESIGN §3: <c>ts</c>,
/// <c>level</c>, <c>msg</c>, then the event's fields as snake_case keys) or text, to the console writer the command was
/// given (stdout, or a test's writer — which is why this is a provider of its own and not the console logger, which
/// only writes to the process's stdout from a background thread) and always as JSON to the run log under INGOT_HOME.
/// Writes are synchronous: a run that crashes has its last event on disk. The final summary (<c>Run complete</c>) is
/// written at every level.
/// </summary>
internal sealed class RunLogProvider : ILoggerProvider
{
    private readonly TextWriter? _console;
    private readonly LogFormat _format;
    private readonly StreamWriter? _file;
    private readonly LogLevel _min;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();

    public RunLogProvider(TextWriter? console, LogFormat format, string? runLogPath, LogLevel min, TimeProvider time)
    {
        _console = console;
        _format = format;
        _min = min;
        _time = time;
        if (runLogPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(runLogPath)!);
            _file = new StreamWriter(new FileStream(runLogPath, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        }
    }

    /// <summary>The levels a user may set (<c>INGOT_LOG_LEVEL</c>); anything else is a configuration error.</summary>
    public static LogLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "info" or "information" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new Config.ConfigException($"INGOT_LOG_LEVEL: '{level}' is not a log level (debug, info, warn, error)"),
    };

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    /// <summary>A failure's full details (redacted), kept in the run log only: the console gets the one-line message.</summary>
    public void Detail(Engine.RunInfo run, string message, string detail)
    {
        if (_file is null) return;
        var ts = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var line = Redact.Message(Json(ts, "debug", message, [new("run_id", run.RunId), new("pipeline", run.Pipeline), new("detail", detail)]));
        lock (_lock) _file.WriteLine(line);
    }

    public void Dispose() => _file?.Dispose();

    private bool Enabled(LogLevel level, int eventId) => level >= _min || eventId == RunLog.Events.RunComplete;

    private void Write<TState>(LogLevel level, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!Enabled(level, eventId.Id)) return;
        var ts = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var name = eventId.Id == RunLog.Events.RunComplete ? "info" : LevelName(level);
        var message = formatter(state, exception);
        var fields = new List<KeyValuePair<string, object?>>();
        if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
        {
            foreach (var (k, v) in pairs)
            {
                if (k == "{OriginalFormat}") continue;
                fields.Add(new(JsonNamingPolicy.SnakeCaseLower.ConvertName(k), v));
            }
        }
        if (exception is not null && _min <= LogLevel.Debug) fields.Add(new("exception", exception.ToString()));
        var json = Redact.Message(Json(ts, name, message, fields));
        var text = _console is not null && _format == LogFormat.Text ? Redact.Message(Text(ts, name, message, fields)) : null;
        lock (_lock)
        {
            _console?.WriteLine(text ?? json);
            _file?.WriteLine(json);
        }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        _ => "error",
    };

    private static string Json(string ts, string level, string message, List<KeyValuePair<string, object?>> fields)
    {
        var e = new Dictionary<string, object?>(fields.Count + 3) { ["ts"] = ts, ["level"] = level, ["msg"] = message };
        foreach (var (k, v) in fields) e[k] = v;
        return JsonLine.Write(e);
    }

    /// <summary><c>ts level message key=value …</c>; nulls left out, lists and maps as compact JSON.</summary>
    private static string Text(string ts, string level, string message, List<KeyValuePair<string, object?>> fields)
    {
        var sb = new StringBuilder().Append(ts).Append(' ').Append(level.PadRight(5)).Append(' ').Append(message);
        foreach (var (k, v) in fields)
        {
            if (v is null || k is "run_id" or "pipeline") continue;
            sb.Append(' ').Append(k).Append('=');
            sb.Append(v switch
            {
                string s => s.Contains(' ', StringComparison.Ordinal) ? JsonLine.Text(s) : s,
                // Instants as in the JSON lines (ISO 8601), never in the invariant culture's "MM/dd/yyyy HH:mm:ss zzz".
                DateTimeOffset t => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture),
                DateTime t => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => JsonLine.Text(v),
            });
        }
        return sb.ToString();
    }

    private sealed class Logger(RunLogProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._min || logLevel == LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Write(logLevel, eventId, state, exception, formatter);
    }
}
