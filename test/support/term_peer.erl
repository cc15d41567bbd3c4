%% A port-program peer for the term codec interop tests (test/support/erl-port.ts).
%%
%% The Node side starts `erl -noinput`, which compiles this file in memory and calls main/0.
%% Requests and replies are external term format in 4-byte length-prefixed frames on fd 0/1.
%% Every request gets exactly one reply, in order; a bad request or a binary the BEAM
%% rejects gives an error reply, never a crash, so one broken case cannot hide the others.
%% Replies use minor_version 2 (UTF-8 atoms), the form the distribution wire uses.
-module(term_peer).
-export([main/0]).

main() ->
    Port = open_port({fd, 0, 1}, [binary, {packet, 4}, eof]),
    loop(Port).

loop(Port) ->
    receive
        {Port, {data, Request}} ->
            Reply = try
                handle(binary_to_term(Request))
            catch
                Class:Reason -> {crash, Class, iolist_to_binary(io_lib:format("~tP", [Reason, 10]))}
            end,
            true = port_command(Port, encode(Reply)),
            loop(Port);
        {Port, eof} ->
            halt(0)
    end.

encode(Term) -> term_to_binary(Term, [{minor_version, 2}]).

handle({info}) ->
    {node(), erlang:system_info(creation)};
handle({roundtrip, Bin}) ->
    roundtrip(Bin);
handle({roundtrip_many, Bins}) ->
    [roundtrip(B) || B <- Bins];
handle({eval_corpus}) ->
    corpus();
handle({check, Ours, Beams}) ->
    check(Ours, Beams);
handle({check_many, Pairs}) ->
    [check(Ours, Beams) || {Ours, Beams} <- Pairs];
handle({compare, A, B}) ->
    case compare(A, B) of
        {Order, _Exact} -> Order;
        Error -> Error
    end;
handle({compare_many, Pairs}) ->
    [compare(A, B) || {A, B} <- Pairs].

%% Decodes, then re-encodes with the BEAM's own encoder.
roundtrip(Bin) ->
    case decode(Bin) of
        {ok, T} -> {ok, encode(T)};
        error -> {error, badarg}
    end.

check(Ours, Beams) ->
    case {decode(Ours), decode(Beams)} of
        {{ok, A}, {ok, B}} -> A =:= B;
        {error, _} -> {error, ours};
        {_, error} -> {error, beams}
    end.

%% {Order, Exact}: Order from the BEAM's < and ==, Exact from =:=.
compare(ABin, BBin) ->
    case {decode(ABin), decode(BBin)} of
        {{ok, A}, {ok, B}} ->
            Order = if A < B -> lt; A == B -> eq; true -> gt end,
            {Order, A =:= B};
        {error, _} -> {error, a};
        {_, error} -> {error, b}
    end.

decode(Bin) ->
    try binary_to_term(Bin) of
        T -> {ok, T}
    catch
        error:badarg -> error
    end.

%% The corpus: [{Label, Variant, Bytes, Description}], every Bytes made by the BEAM
%% (term_to_binary) except the `handmade` variant, whose bytes are written here and kept
%% only when binary_to_term accepts them.
%%   v2         term_to_binary(T, [{minor_version, 2}]): the distribution wire's form
%%   v1         term_to_binary(T): OTP 25's default (ATOM_EXT for Latin-1 atoms); only
%%              when it differs from v2
%%   v0         [{minor_version, 0}]: FLOAT_EXT for floats
%%   compressed [compressed] / [{compressed, 9}]: only when the BEAM really compressed
%%   handmade   old or non-canonical forms the BEAM decodes but does not emit
corpus() ->
    Base = base_terms(),
    Plain = lists:flatmap(
        fun({Label, T}) ->
            V2 = term_to_binary(T, [{minor_version, 2}]),
            V1 = term_to_binary(T),
            [{Label, v2, V2, describe(T)}]
                ++ [{Label, v1, V1, describe(T)} || V1 =/= V2]
        end, Base),
    Compressed = [{<<Label/binary, "/level", (integer_to_binary(Level))/binary>>, compressed, Bin, describe(T)}
                  || {Label, T} <- compressible_terms(),
                     Level <- [1, 6, 9],
                     Bin <- [term_to_binary(T, [{compressed, Level}])],
                     is_compressed(Bin)],
    V0 = [{Label, v0, term_to_binary(T, [{minor_version, 0}]), describe(T)}
          || {Label, T} <- Base, is_float(T)],
    Handmade = [{Label, handmade, Bin, describe(T)}
                || {Label, Bin} <- handmade(), {ok, T} <- [decode(Bin)]],
    Plain ++ dedupe(Compressed) ++ V0 ++ Handmade.

is_compressed(<<131, 80, _/binary>>) -> true;
is_compressed(_) -> false.

%% Levels can give the same bytes; keep one of each distinct encoding.
dedupe(Entries) ->
    {Kept, _} = lists:foldl(
        fun({_, _, Bin, _} = E, {Acc, Seen}) ->
            case sets:is_element(Bin, Seen) of
                true -> {Acc, Seen};
                false -> {[E | Acc], sets:add_element(Bin, Seen)}
            end
        end, {[], sets:new()}, Entries),
    lists:reverse(Kept).

describe(T) ->
    Text = lists:flatten(io_lib:print(T, 1, 1000000, 6)),
    unicode:characters_to_binary(string:slice(Text, 0, 160)).

pow2(N) -> 1 bsl N.

base_terms() ->
    integers() ++ floats() ++ atoms() ++ binaries() ++ bitstrings() ++ lists() ++ improper()
        ++ tuples() ++ maps() ++ identifiers() ++ funs() ++ deep() ++ mixed().

integers() ->
    Small = [0, 1, 2, 42, 127, 128, 255, 256, 257, 1000, 65535, 65536,
             -1, -2, -42, -128, -255, -256, -257, -65536],
    Named = [{<<"int/", (integer_to_binary(I))/binary>>, I} || I <- Small],
    Powers = lists:flatmap(
        fun(N) ->
            P = pow2(N),
            Tag = integer_to_binary(N),
            [{<<"int/2^", Tag/binary, "-1">>, P - 1},
             {<<"int/2^", Tag/binary>>, P},
             {<<"int/2^", Tag/binary, "+1">>, P + 1},
             {<<"int/-2^", Tag/binary>>, -P},
             {<<"int/-2^", Tag/binary, "-1">>, -P - 1}]
        end, [24, 31, 32, 40, 48, 52, 53, 56, 63, 64, 65, 100, 128, 1024, 2039, 2040, 2048]),
    Thousand = list_to_integer([$1 | lists:duplicate(999, $0)]) + 123456789,
    Named ++ Powers
        ++ [{<<"int/1000-digits">>, Thousand},
            {<<"int/-1000-digits">>, -Thousand},
            {<<"int/5000-digits">>, list_to_integer(lists:duplicate(5000, $7))},
            {<<"int/12345678901234567890">>, 12345678901234567890},
            {<<"int/-9007199254740993">>, -9007199254740993}].

floats() ->
    [{<<"float/0.0">>, 0.0},
     {<<"float/-0.0">>, -0.0},
     {<<"float/1.0">>, 1.0},
     {<<"float/-1.0">>, -1.0},
     {<<"float/1.5">>, 1.5},
     {<<"float/-1.5">>, -1.5},
     {<<"float/0.1">>, 0.1},
     {<<"float/pi">>, math:pi()},
     {<<"float/1.5e300">>, 1.5e300},
     {<<"float/-1.5e300">>, -1.5e300},
     {<<"float/1.0e-300">>, 1.0e-300},
     {<<"float/min-denormal">>, 5.0e-324},
     {<<"float/denormal">>, 1.0e-310},
     {<<"float/max-denormal">>, 2.225073858507201e-308},
     {<<"float/min-normal">>, 2.2250738585072014e-308},
     {<<"float/max">>, 1.7976931348623157e308},
     {<<"float/-max">>, -1.7976931348623157e308},
     {<<"float/2^53">>, 9007199254740992.0},
     {<<"float/2^64">>, 18446744073709551616.0},
     {<<"float/123456789.0">>, 123456789.0},
     {<<"float/1.0e16">>, 1.0e16},
     {<<"float/0.5">>, 0.5},
     {<<"float/1.0e-10">>, 1.0e-10}].

atoms() ->
    [{<<"atom/ok">>, ok},
     {<<"atom/empty">>, ''},
     {<<"atom/true">>, true},
     {<<"atom/false">>, false},
     {<<"atom/undefined">>, undefined},
     {<<"atom/nil">>, nil},
     {<<"atom/hello world">>, 'hello world'},
     {<<"atom/Quoted">>, 'Quoted'},
     {<<"atom/quote">>, 'a\'b'},
     {<<"atom/latin1">>, 'caf\x{e9}'},
     {<<"atom/unicode">>, '\x{fc}n\x{ef}c\x{f8}d\x{e9}'},
     {<<"atom/japanese">>, '\x{65e5}\x{672c}'},
     {<<"atom/emoji">>, 'smile \x{1F600}'},
     {<<"atom/255-ascii">>, list_to_atom(lists:duplicate(255, $a))},
     {<<"atom/255-unicode">>, list_to_atom(lists:duplicate(255, 16#e9))},
     {<<"atom/255-cjk">>, list_to_atom(lists:duplicate(255, 16#65e5))},
     {<<"atom/node">>, node()}].

binaries() ->
    [{<<"bin/empty">>, <<>>},
     {<<"bin/zero">>, <<0>>},
     {<<"bin/hello">>, <<"hello">>},
     {<<"bin/bytes">>, <<255, 0, 1>>},
     {<<"bin/utf8">>, <<"\x{65e5}\x{672c}"/utf8>>},
     {<<"bin/255">>, binary:copy(<<7>>, 255)},
     {<<"bin/256">>, binary:copy(<<8>>, 256)},
     {<<"bin/64k">>, pattern(65536)},
     {<<"bin/1m">>, pattern(1 bsl 20)}].

pattern(N) -> << <<(I rem 251)>> || I <- lists:seq(1, N) >>.

bitstrings() ->
    [{<<"bits/1:3">>, <<1:3>>},
     {<<"bits/255,7:5">>, <<255, 7:5>>},
     {<<"bits/1:1">>, <<1:1>>},
     {<<"bits/0:7">>, <<0:7>>},
     {<<"bits/ffff:15">>, <<16#7fff:15>>},
     {<<"bits/1,2,3,4:4">>, <<1, 2, 3, 4:4>>}].

lists() ->
    [{<<"list/nil">>, []},
     {<<"list/1,2,3">>, [1, 2, 3]},
     {<<"list/hello">>, "hello"},
     {<<"list/0">>, [0]},
     {<<"list/255">>, [255]},
     {<<"list/256">>, [256]},
     {<<"list/1,256">>, [1, 256]},
     {<<"list/-1">>, [-1]},
     {<<"list/seq300">>, lists:seq(1, 300)},
     {<<"list/string65535">>, lists:duplicate(65535, $x)},
     {<<"list/string65536">>, lists:duplicate(65536, $y)},
     {<<"list/charlist-japanese">>, "\x{65e5}\x{672c}"},
     {<<"list/atoms">>, [a, b, c]},
     {<<"list/floats">>, [1.0, 2, -0.0]},
     {<<"list/binaries">>, [<<>>, <<"x">>]},
     {<<"list/nested-nil">>, [[]]},
     {<<"list/nested3">>, [[[]]]},
     {<<"list/mixed">>, [1, a, <<"b">>, {c}, [d], 2.5, -7, #{e => f}]}].

improper() ->
    Ref = make_ref(),
    [{<<"improper/a|b">>, [a | b]},
     {<<"improper/1|2">>, [1 | 2]},
     {<<"improper/1,2|3">>, [1, 2 | 3]},
     {<<"improper/a|bin">>, [a | <<"t">>]},
     {<<"improper/alias|ref">>, [alias | Ref]},
     {<<"improper/tuple|tuple">>, [{} | {}]},
     {<<"improper/x|float">>, [x | 1.5]},
     {<<"improper/nested">>, [[a | b] | c]}].

tuples() ->
    [{<<"tuple/empty">>, {}},
     {<<"tuple/a">>, {a}},
     {<<"tuple/ok,1">>, {ok, 1}},
     {<<"tuple/error">>, {error, {reason, "text"}}},
     {<<"tuple/255">>, list_to_tuple(lists:seq(1, 255))},
     {<<"tuple/256">>, list_to_tuple(lists:seq(1, 256))},
     {<<"tuple/300">>, list_to_tuple([x || _ <- lists:seq(1, 300)])},
     {<<"tuple/nested">>, {{{{}}}}},
     {<<"tuple/floats">>, {1.0, -0.0}}].

maps() ->
    KV = fun(N) -> maps:from_list([{list_to_atom("k" ++ integer_to_list(I)), I} || I <- lists:seq(1, N)]) end,
    [{<<"map/empty">>, #{}},
     {<<"map/a=>1">>, #{a => 1}},
     {<<"map/mixed-keys">>, #{1 => a, a => 1, "s" => x, <<"b">> => y, {t} => z, [l] => w}},
     {<<"map/tuple-keys">>, #{{1, 2} => #{{a, b} => [1], {c, d} => #{}}, {3} => {4}}},
     {<<"map/32">>, KV(32)},
     {<<"map/33">>, KV(33)},
     {<<"map/100">>, KV(100)},
     {<<"map/1000-int-keys">>, maps:from_list([{I, I * I} || I <- lists:seq(1, 1000)])},
     {<<"map/map-key">>, #{#{a => 1} => b, #{} => c}},
     {<<"map/int-float-keys">>, #{1 => int, 1.0 => float}},
     {<<"map/binary-keys">>, #{<<"name">> => <<"Alice">>, <<"age">> => 30}},
     {<<"map/pid-key">>, #{self() => me}},
     {<<"map/nested-big">>, #{outer => KV(40), list => [KV(3), KV(50)]}}].

identifiers() ->
    Ref = make_ref(),
    Alias = alias(),
    Spawned = spawn(fun() -> receive stop -> ok end end),
    Ports = erlang:ports(),
    [{<<"pid/self">>, self()},
     {<<"pid/init">>, whereis(init)},
     {<<"pid/spawned">>, Spawned},
     {<<"ref/make_ref">>, Ref},
     {<<"ref/alias">>, Alias},
     {<<"ref/monitor">>, erlang:monitor(process, Spawned)},
     {<<"port/last">>, lists:last(Ports)},
     {<<"port/all">>, Ports},
     {<<"ids/tuple">>, {self(), Ref, hd(Ports)}}].

funs() ->
    [{<<"fun/export">>, fun lists:reverse/1},
     {<<"fun/export-self">>, fun erlang:self/0},
     {<<"fun/local-free">>, closure(42, <<"free">>)},
     {<<"fun/local-closed">>, fun() -> ok end},
     {<<"fun/local-big-free">>, big_closure(lists:seq(1, 50), self())},
     {<<"fun/in-tuple">>, {callback, closure(7, [x]), fun lists:sort/1}}].

%% Funs made in functions whose arguments they capture: constants bound in the same body
%% would be folded into the fun's code and leave no free variables.
closure(X, Y) -> fun(A) -> {A, X, Y} end.

big_closure(Big, Pid) -> fun(A, B) -> {A, B, Big, Pid} end.

deep() ->
    Nest = fun Nest(0, Acc, _) -> Acc; Nest(N, Acc, Wrap) -> Nest(N - 1, Wrap(Acc), Wrap) end,
    [{<<"deep/list1000">>, Nest(1000, [], fun(A) -> [A] end)},
     {<<"deep/tuple500">>, Nest(500, leaf, fun(A) -> {A} end)},
     {<<"deep/map100">>, Nest(100, #{}, fun(A) -> #{k => A} end)},
     {<<"deep/mixed200">>, Nest(200, 0, fun(A) -> [{x, #{v => A}}] end)}].

mixed() ->
    [{<<"mixed/person">>, {person, <<"Alice">>, 30, [admin, user], #{email => <<"a@b.c">>}}},
     {<<"mixed/gen-call">>, {'$gen_call', {self(), [alias | make_ref()]}, {get, key}}},
     {<<"mixed/ok-list">>, {ok, [{1, <<"one">>}, {2, <<"two">>}, {3, <<"three">>}]}},
     {<<"mixed/exit">>, {'EXIT', self(), {badarg, [{m, f, 1, [{file, "m.erl"}, {line, 3}]}]}}},
     {<<"mixed/rpc">>, {call, lists, reverse, [[1, 2, 3]], self()}}].

%% Large or repetitive terms the BEAM compresses.
compressible_terms() ->
    [{<<"compressed/zeros1m">>, binary:copy(<<0>>, 1 bsl 20)},
     {<<"compressed/seq1000">>, lists:seq(1, 1000)},
     {<<"compressed/strings">>, [<<"the same text again and again">> || _ <- lists:seq(1, 200)]},
     {<<"compressed/map100">>, maps:from_list([{I, {value, I}} || I <- lists:seq(1, 100)])},
     {<<"compressed/pattern64k">>, pattern(65536)},
     {<<"compressed/tuples">>, list_to_tuple([{ok, I} || I <- lists:seq(1, 500)])}].

%% Forms the BEAM decodes but its encoder does not produce (or not for these values).
handmade() ->
    <<131, Node/binary>> = term_to_binary(node(), [{minor_version, 2}]),
    <<131, Other/binary>> = term_to_binary('other@host', [{minor_version, 2}]),
    [{<<"handmade/SMALL_ATOM_EXT">>, <<131, 115, 3, "abc">>},
     {<<"handmade/ATOM_EXT-latin1">>, <<131, 100, 0, 2, $a, 233>>},
     {<<"handmade/ATOM_UTF8_EXT-short">>, <<131, 118, 0, 2, "hi">>},
     {<<"handmade/SMALL_BIG-5">>, <<131, 110, 1, 0, 5>>},
     {<<"handmade/LARGE_BIG--257">>, <<131, 111, 0, 0, 0, 2, 1, 1, 1>>},
     {<<"handmade/SMALL_BIG-zero-padded">>, <<131, 110, 3, 0, 1, 0, 0>>},
     {<<"handmade/INTEGER_EXT-5">>, <<131, 98, 0, 0, 0, 5>>},
     {<<"handmade/LIST_EXT-small-ints">>, <<131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106>>},
     {<<"handmade/STRING_EXT-empty">>, <<131, 107, 0, 0>>},
     {<<"handmade/LARGE_TUPLE-1">>, <<131, 105, 0, 0, 0, 1, 97, 1>>},
     {<<"handmade/BIT_BINARY-8-bits">>, <<131, 77, 0, 0, 0, 1, 8, 255>>},
     {<<"handmade/BIT_BINARY-empty">>, <<131, 77, 0, 0, 0, 0, 0>>},
     {<<"handmade/MAP-unsorted">>, <<131, 116, 0, 0, 0, 2, 119, 1, $z, 97, 1, 119, 1, $a, 97, 2>>},
     {<<"handmade/PID_EXT">>, <<131, 103, Other/binary, 7:32, 1:32, 2>>},
     {<<"handmade/NEW_PID_EXT-other">>, <<131, 88, Other/binary, 100:32, 3:32, 77:32>>},
     {<<"handmade/PORT_EXT">>, <<131, 102, Other/binary, 9:32, 2>>},
     {<<"handmade/NEW_PORT_EXT-other">>, <<131, 89, Other/binary, 9:32, 77:32>>},
     {<<"handmade/V4_PORT_EXT">>, <<131, 120, Other/binary, 16#123456789:64, 77:32>>},
     {<<"handmade/V4_PORT_EXT-local">>, <<131, 120, Node/binary, 5:64, 0:32>>},
     {<<"handmade/REFERENCE_EXT">>, <<131, 101, Other/binary, 11:32, 2>>},
     {<<"handmade/NEW_REFERENCE_EXT">>, <<131, 114, 0, 3, Other/binary, 2, 1:32, 2:32, 3:32>>},
     {<<"handmade/NEWER_REFERENCE-1-word">>, <<131, 90, 0, 1, Other/binary, 77:32, 5:32>>},
     {<<"handmade/NEWER_REFERENCE-5-words">>, <<131, 90, 0, 5, Other/binary, 77:32, 1:32, 2:32, 3:32, 4:32, 5:32>>},
     {<<"handmade/NEW_FLOAT-nonzero">>, <<131, 70, 2.5/float>>}].
