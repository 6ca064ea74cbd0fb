"""Writes the bundled sample data: invented tickets and web messages of A市 in seven domains.

Run `python samples/generate.py` to rebuild training.csv, hotline_tickets.jsonl and web_messages.jsonl.
Everything here is made up from the templates below; it is deterministic (fixed seed).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DISTRICTS = ["A1区", "A2区", "A3区", "A4区", "A5区", "A6区", "A7县", "A8县", "A9市"]
COMMUNITIES = ["景蓉华苑", "桂花坪小区", "金色家园", "滨江花园", "书香名邸", "阳光新城", "锦绣江南", "幸福里", "湘江一号", "梅溪湖畔"]
ROADS = ["人民路", "解放西路", "芙蓉中路", "万家丽路", "东二环", "金星北路", "枫林三路", "韶山南路", "岳麓大道", "望城路"]
SCHOOLS = ["第一中学", "实验小学", "育才学校", "明德中学", "博才小学", "师大附中"]
HOSPITALS = ["市第一人民医院", "中心医院", "妇幼保健院", "中医院", "社区卫生服务中心"]
COMPANIES = ["某建筑公司", "某物流公司", "某电子厂", "某餐饮公司", "某劳务公司", "某装修公司"]
SHOPS = ["某超市", "某健身房", "某美容店", "某培训机构", "某家电商场", "某餐馆"]
SCENIC = ["岳麓山景区", "橘子洲景区", "古镇景区", "湿地公园", "森林公园"]

# domain -> list of (title, text); slots: {d} district, {c} community, {r} road, {s} school,
# {h} hospital, {co} company, {sh} shop, {sc} scenic spot, {n} a number, {m} months
TEMPLATES = {
    "城乡建设": [
        ("{d}{c}物业管理混乱", "{d}{c}物业公司收费不合理，物业费每年上涨，公共区域卫生没人打扫，电梯经常坏，业委会也不管，请相关部门督促物业整改。"),
        ("{c}小区电梯频繁故障", "我住在{d}{c}，小区{n}号楼电梯近{m}个月坏了好几次，有老人被困在电梯里，物业一直拖着不维修，维修基金也不让用。"),
        ("{r}旁有违章建筑", "{d}{r}附近有人在楼顶私搭乱建，违章建筑越盖越大，存在安全隐患，请城管部门依法拆除。"),
        ("{d}{r}占道经营严重", "{r}两边每天晚上摆摊占道经营，行人只能走机动车道，城管来了就跑，走了又摆，希望加强管理。"),
        ("{c}安置房迟迟不交房", "{d}{c}棚改安置房原定去年交房，现在已经拖了{m}个月，工地停工，拆迁户只能在外租房，过渡费也停发了。"),
        ("{c}房产证办不下来", "我们在{d}{c}买房已经{n}年，开发商一直办不了不动产证，说是土地手续有问题，购房户的权益得不到保障。"),
        ("{r}路灯不亮井盖缺失", "{d}{r}一段路灯坏了很久，晚上漆黑一片，人行道上还有井盖缺失，市民出行很危险，请尽快修复。"),
        ("{d}老旧小区改造问题", "{d}{c}老旧小区改造把绿化带挖了，改造后的管道还在漏水，施工质量差，居民多次反映没有结果。"),
    ],
    "环境保护": [
        ("{r}工地夜间施工噪音扰民", "{d}{r}旁边的工地每天晚上施工到凌晨，噪音扰民，附近居民无法休息，请环保部门查处夜间违规施工。"),
        ("{c}楼下餐馆油烟扰民", "{d}{c}楼下{sh}的油烟直排，没有安装油烟净化器，整栋楼都是油烟味，窗户都不敢开。"),
        ("{d}河道黑臭", "{d}{r}附近的河道水质发黑发臭，有排污口往河里排污水，夏天蚊虫很多，希望治理黑臭水体。"),
        ("{co}偷排废水", "{d}{co}晚上偷偷排放废水，周边的水塘鱼都死了，空气中还有刺鼻的异味，请生态环境部门调查。"),
        ("{r}扬尘污染严重", "{d}{r}一带渣土车不覆盖，道路扬尘很大，雾霾天气更严重，附近学校的孩子都在咳嗽。"),
        ("{d}垃圾焚烧有异味", "{d}的垃圾处理场经常焚烧垃圾，周边{c}小区每天都能闻到臭味，担心空气污染影响健康。"),
        ("{c}附近养猪场污染", "{d}{c}附近有养殖场粪便直排，污染地下水和农田，臭气熏天，村民多次反映没人管。"),
        ("{d}广场舞音响噪声大", "{d}{c}旁边广场每晚音响声音开得很大，噪声超标，影响居民休息和学生学习，希望环保部门监测处理。"),
    ],
    "交通运输": [
        ("{n}路公交车间隔太长", "{d}{r}的{n}路公交车发车间隔太长，早高峰等车要半个多小时，希望公交公司增加班次。"),
        ("{r}路口红绿灯设置不合理", "{d}{r}路口的红绿灯时间太短，行人过马路很危险，高峰期车辆排长队，建议交警优化信号灯。"),
        ("{c}门口车辆乱停", "{d}{c}门口每天都有车辆违停，堵住消防通道和小区出入口，请交警加强管理。"),
        ("出租车拒载绕路", "在{d}{r}打出租车，司机拒载还绕路多收费，投诉电话打不通，希望交通运输部门整治出租车行业。"),
        ("网约车平台乱收费", "{d}乘坐网约车，平台收取高额取消费，司机还要求线下加价，请交通部门规范网约车经营。"),
        ("{r}道路坑洼不平", "{d}{r}路面坑坑洼洼，下雨天积水严重，电动车经常摔倒，希望交通部门尽快修复道路。"),
        ("{d}到市区没有公交线路", "我们{d}{c}附近没有公交站，到市区要走{n}公里，老人孩子出行很不方便，希望开通公交线路。"),
        ("{r}停车位不足收费高", "{d}{r}附近停车难，路边停车收费标准不公开，停一小时收{n}元，希望规范停车收费。"),
    ],
    "教育文体": [
        ("{s}乱收费", "{d}{s}以资料费、补课费的名义向学生收费，每学期收{n}百元，家长敢怒不敢言，请教育局调查。"),
        ("孩子入学学位问题", "我家孩子户口在{d}{c}，按学区应该读{s}，但学校说学位已满，让我们去很远的学校，希望教育局解决入学问题。"),
        ("{s}老师有偿补课", "{d}{s}有老师在校外开设补课班，暗示学生必须参加，不参加就在课堂上冷落，违反教师职业道德。"),
        ("校外培训机构跑路", "{d}{sh}收了几百名学生的培训费后关门跑路，家长交了{n}千元学费退不回来，请教育部门处理。"),
        ("{s}校车安全隐患", "{d}{s}的校车严重超载，车况很差，孩子们的安全得不到保障，希望加强校车管理。"),
        ("{d}公共体育馆不开放", "{d}新建的体育馆和健身场地长期锁门不对外开放，市民没有地方锻炼身体，建议免费或低收费开放。"),
        ("{s}食堂饭菜质量差", "{d}{s}食堂饭菜质量差价格高，孩子经常吃不饱，学校强制在食堂就餐，希望教育局监督。"),
        ("幼儿园收费标准过高", "{d}{c}附近的幼儿园保教费每月{n}千元，远高于公布的收费标准，普惠性幼儿园太少。"),
    ],
    "劳动和社会保障": [
        ("{co}拖欠工资", "我在{d}{co}工作了{m}个月，公司一直拖欠工资，老板说没钱，我们{n}多个农民工的工资都没发，请劳动监察部门帮忙追讨。"),
        ("单位不给买社保", "{d}{co}入职后一直不给员工缴纳社会保险，也不签劳动合同，请人社部门督促单位依法参保。"),
        ("养老金迟迟没有到账", "我父亲在{d}退休已经{m}个月，养老金一直没有发放，社保局说资料在审核，请加快办理。"),
        ("失业保险金申领困难", "我在{d}申请失业保险金，材料交了好几次都说不全，来回跑了{n}趟，希望简化办理流程。"),
        ("被违法解除劳动合同", "{d}{co}以经营困难为由辞退员工，不给任何经济补偿，违反劳动合同法，请劳动仲裁部门处理。"),
        ("社保卡办理进度慢", "在{d}办理社保卡已经{m}个月还没拿到，看病不能刷卡，打电话问也没有结果。"),
        ("灵活就业人员缴费问题", "我是{d}的灵活就业人员，想继续缴纳养老保险，但系统一直提示无法缴费，请社保部门解答。"),
        ("工伤认定拖延", "我在{d}{co}工作时受伤，申请工伤认定已经{m}个月，公司不配合提供材料，工伤医疗费用自己垫付。"),
    ],
    "商贸旅游": [
        ("{sh}预付卡退款难", "{d}{sh}突然关门，我办的预付卡还有{n}百元没有用完，商家联系不上，请市场监管部门帮忙退款。"),
        ("{sc}门票价格不合理", "{d}{sc}门票涨到{n}十元，园内还要二次收费，景区服务差，游客很不满意。"),
        ("旅行社强制购物", "参加{d}的旅行社一日游，导游强制游客进店购物，不买就甩脸色，请旅游部门查处。"),
        ("{sh}虚假宣传", "{d}{sh}做虚假宣传，宣传的优惠活动到店后不兑现，消费者权益受到侵害。"),
        ("{r}商铺售卖假冒商品", "{d}{r}的商铺售卖假冒名牌商品，价格还很高，希望市场监督管理局加强检查。"),
        ("农贸市场缺斤短两", "{d}{c}附近农贸市场有商贩缺斤短两，电子秤有问题，投诉后没有人处理。"),
        ("{d}夜市经营管理问题", "{d}{r}夜市摊位费太高，经营户负担重，市场管理方乱收费，希望商务部门规范夜市管理。"),
        ("网购商品质量问题退货难", "在{d}一家电商平台店铺买的家电有质量问题，商家拒绝退换货，售后电话打不通。"),
    ],
    "卫生计生": [
        ("{h}看病排队时间长", "{d}{h}挂号难、看病排队时间长，一个上午只能看上一个科室，希望医院优化就诊流程。"),
        ("{h}医生态度恶劣", "在{d}{h}就诊时，医生态度恶劣，不认真检查就开药，还乱开检查项目，请卫健委调查。"),
        ("疫苗接种预约不上", "{d}{c}附近的社区卫生服务中心疫苗接种一直预约不上，孩子的疫苗已经推迟{m}个月。"),
        ("二孩准生证办理问题", "在{d}办理二孩准生证需要的材料太多，来回跑了{n}次还没办好，希望简化生育登记流程。"),
        ("{h}乱收费", "{d}{h}住院费用清单中有重复收费的项目，医保报销后自付部分仍然很高，要求医院给出解释。"),
        ("{c}黑诊所无证行医", "{d}{c}附近有一家诊所无证行医，还给病人输液，存在医疗安全隐患，请卫生监督部门查处。"),
        ("家庭医生签约服务不到位", "{d}签约了家庭医生，但一年来没有任何随访服务，打电话也找不到医生，签约只是走形式。"),
        ("药店销售过期药品", "{d}{r}一家药店销售过期药品，还向顾客推销保健品冒充药品，请药监部门处理。"),
    ],
}
# Messages that name no domain: the classifier is unsure, so they wait for a dispatcher in the demo.
VAGUE = [
    ("反映一个问题", "{d}{c}的问题反映过好几次了，一直没有人处理，希望有关部门尽快给个说法。"),
    ("咨询相关政策", "想咨询一下{d}最近出台的相关政策，具体怎么办理，需要什么材料，请回电告知。"),
    ("投诉办事效率低", "在{d}办事来回跑了{n}趟还没办好，工作人员互相推诿，希望改进作风。"),
    ("请领导关注", "{d}{r}附近的情况请领导关注一下，老百姓意见很大。"),
]
OPENINGS = ["", "您好，", "尊敬的领导：", "领导好，", "我想反映一个问题，", "市长您好！"]
CLOSINGS = ["", "谢谢！", "望尽快解决。", "希望有关部门重视。", "请相关部门核实处理。", "盼复。"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀兰"]
TYPES_BY_WEIGHT = [("投诉", 50), ("咨询", 20), ("求助", 12), ("建议", 10), ("举报", 8)]


def fill(template: str, rng: random.Random) -> str:
    return template.format(
        d=rng.choice(DISTRICTS), c=rng.choice(COMMUNITIES), r=rng.choice(ROADS), s=rng.choice(SCHOOLS),
        h=rng.choice(HOSPITALS), co=rng.choice(COMPANIES), sh=rng.choice(SHOPS), sc=rng.choice(SCENIC),
        n=rng.randint(2, 9), m=rng.randint(2, 11),
    )


def phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999999999):09d}"


def message(domain: str, rng: random.Random) -> tuple[str, str]:
    title, text = rng.choice(VAGUE if domain == "vague" else TEMPLATES[domain])
    opening, closing = rng.choice(OPENINGS), rng.choice(CLOSINGS)
    state = rng.getstate()
    title = fill(title, rng)
    rng.setstate(state)  # the same places in title and text
    return title, opening + fill(text, rng) + closing


def main() -> None:
    rng = random.Random(12345)
    import opencc

    to_traditional = opencc.OpenCC("s2t")
    domains = list(TEMPLATES)

    with open(HERE / "training.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "text", "label"])
        for i in range(840):
            domain = domains[i % len(domains)]
            # One row in twenty is vague, labelled with whichever domain it was filed under, as real
            # boards have: the model learns that such messages say little about their domain.
            title, body = message("vague" if i % 20 == 3 else domain, rng)
            writer.writerow([f"T{i + 1:04d}", title, body, domain])

    start = datetime(2026, 11, 2, 8, 30)
    with open(HERE / "hotline_tickets.jsonl", "w", encoding="utf-8") as handle:
        for i in range(320):
            domain = "vague" if i % 12 == 5 else rng.choice(domains)
            title, body = message(domain, rng)
            number = phone(rng)
            if i % 5 == 0:
                body += f"联系电话{number}。"
            if i % 9 == 0:
                title, body = to_traditional.convert(title), to_traditional.convert(body)
            ticket_type = rng.choices([t for t, _ in TYPES_BY_WEIGHT], [w for _, w in TYPES_BY_WEIGHT])[0]
            when = start + timedelta(minutes=37 * i + rng.randint(0, 30))
            handle.write(json.dumps({
                "id": f"H20261102{i + 1:04d}",
                "title": title,
                "text": body,
                "time": when.strftime("%Y/%m/%d %H:%M:%S"),
                "caller": rng.choice(SURNAMES) + rng.choice(GIVEN),
                "phone": number,
                "district": next((d for d in DISTRICTS if d in title + body), ""),
                "type": ticket_type,
                "urgency": "紧急" if i % 17 == 0 else "一般",
            }, ensure_ascii=False) + "\n")

    with open(HERE / "web_messages.jsonl", "w", encoding="utf-8") as handle:
        for i in range(300):
            domain = "vague" if i % 15 == 7 else rng.choice(domains)
            title, body = message(domain, rng)
            if i % 7 == 0:
                body += f"我的手机{phone(rng)}，邮箱user{i}@example.com。"
            if i % 11 == 0:
                title, body = to_traditional.convert(title), to_traditional.convert(body)
            when = start + timedelta(minutes=41 * i + rng.randint(0, 40))
            handle.write(json.dumps({
                "id": f"W{100000 + i}",
                "title": title,
                "text": "\n\t\t\t" + body + "\n\t\t",
                "time": when.isoformat() + "+08:00",
                "author": f"A{rng.randint(10000000, 99999999)}",
                "likes": rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 13, 40]),
            }, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
