using System.Buffers;
using System.Text.Json;

namespace Ingot.Sources.Files;

internal static class JsonText
{
    private static readonly SearchValues<byte> OutsideString = SearchValues.Create(" \t\r\n\""u8);
    private static readonly SearchValues<byte> InsideString = SearchValues.Create("\"\\"u8);

    /// <summary>
    /// Copies JSON text the reader has already validated, leaving out whitespace between tokens; the tokens (strings
    /// with their escapes, numbers as written) stay byte for byte. Returns the bytes written.
    /// </summary>
    public static int Minify(ReadOnlySpan<byte> json, Span<byte> destination)
    {
        var written = 0;
        var at = 0;
        while (at < json.Length)
        {
            // Outside a string: copy up to the next whitespace or quote.
            var run = json[at..].IndexOfAny(OutsideString);
            if (run < 0) run = json.Length - at;
            json.Slice(at, run).CopyTo(destination[written..]);
            written += run;
            at += run;
            if (at == json.Length) break;
            if (json[at] != (byte)'"')
            {
                at++;
                continue;
            }

            // A string: copy through its closing quote, an escape's next byte included whatever it is.
            destination[written++] = json[at++];
            while (true)
            {
                run = json[at..].IndexOfAny(InsideString);
                json.Slice(at, run + 1).CopyTo(destination[written..]);
                written += run + 1;
                at += run + 1;
                if (json[at - 1] == (byte)'"') break;
                destination[written++] = json[at++];
            }
        }
        return written;
    }

    /// <summary>What a token is, for messages (<c>found an array</c>).</summary>
    public static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "something else",
    };

    /// <summary>The reader's message without its own position suffix (the caller says the line).</summary>
    public static string Reason(JsonException e)
    {
        var message = e.Message;
        var suffix = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (suffix >= 0) message = message[..suffix];
        // Advice meant for the code that set up the reader, not for whoever wrote the file.
        message = message.Replace(" Change the reader options.", "", StringComparison.Ordinal);
        return e.BytePositionInLine is { } position ? $"invalid JSON at byte {position + 1} of the line: {message}" : $"invalid JSON: {message}";
    }
}
