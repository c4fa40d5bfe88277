using System.Text;
using System.Text.Json;
using Ingot.Postgres.Source;

namespace Ingot.Tests.Postgres;

/// <summary>The page buffer rows are written into: growth keeps what was written, a dropped row is taken back out.</summary>
public sealed class PageBufferTests
{
    [Fact]
    public void Rows_written_across_many_growths_read_back_exactly()
    {
        // A tiny start so nearly every row makes it grow: the writer's span must come from the grown array.
        var buffer = new PageBuffer(16);
        using var writer = new Utf8JsonWriter(buffer);
        var expected = new StringBuilder();
        for (var i = 0; i < 5000; i++)
        {
            writer.Reset(buffer);
            writer.WriteStartObject();
            writer.WriteNumber("id", i);
            writer.WriteString("note", new string((char)('a' + i % 26), i % 300));
            writer.WriteEndObject();
            writer.Flush();
            buffer.GetSpan(1)[0] = (byte)'\n';
            buffer.Advance(1);
            expected.Append($$"""{"id":{{i}},"note":"{{new string((char)('a' + i % 26), i % 300)}}"}""").Append('\n');
        }
        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(buffer.WrittenMemory.Span));
    }

    [Fact]
    public void A_truncated_row_is_gone_and_the_next_one_follows_the_previous()
    {
        var buffer = new PageBuffer(4);
        "first\n"u8.CopyTo(buffer.GetSpan(6));
        buffer.Advance(6);
        var start = buffer.WrittenCount;
        "dropped\n"u8.CopyTo(buffer.GetSpan(8));
        buffer.Advance(8);
        buffer.Truncate(start);
        "second\n"u8.CopyTo(buffer.GetSpan(7));
        buffer.Advance(7);
        Assert.Equal("first\nsecond\n", Encoding.UTF8.GetString(buffer.WrittenMemory.Span));
        Assert.Throws<InvalidOperationException>(() => buffer.Advance(buffer.GetSpan().Length + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Truncate(buffer.WrittenCount + 1));
    }
}
